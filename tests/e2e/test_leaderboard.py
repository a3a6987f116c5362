"""Leaderboard database under parallel writers, and the rendered tables and Pareto plots."""

from __future__ import annotations

import copy
import multiprocessing
import subprocess
import sys

import pytest

from evaluation.leaderboard import pareto_front, render
from evaluation.leaderboard_db import (
    config_key,
    read_frame,
    read_rows,
    record_error,
    upsert,
)

WRITERS, PER_WRITER = 4, 50


def make_record(
    model="reference_resnet",
    hw="2of4",
    weights="2:4",
    seed=0,
    acc1=0.9,
    edp_reduction=0.2,
    mode="eval",
    output_dir="/tmp/run",
) -> dict:
    """A results.json record shaped like a real run's (trimmed hw spec, same keys)."""
    tasd = {"kind": "uniform", "weights": weights, "activations": None, "targets": None}
    tasd["ignore"] = []
    dense_edp = 1.0e-7
    metrics = {
        "hw/cycles": 2.0e5,
        "hw/latency_s": 2.0e-4,
        "hw/energy_j": 4.6e-4,
        "hw/edp_js": dense_edp * (1 - edp_reduction),
        "dense_hw/cycles": 2.1e5,
        "dense_hw/latency_s": 2.1e-4,
        "dense_hw/energy_j": 5.5e-4,
        "dense_hw/edp_js": dense_edp,
        "hw/speedup": 1.05,
        "hw/energy_ratio": 0.84,
        "hw/edp_reduction": edp_reduction,
        "tasd/layers_planned": 16,
        "tasd/layers_weights": 15,
        "tasd/layers_activations": 0,
    }
    if mode == "eval":
        accuracy = {"val/acc1": acc1, "val/acc5": 1.0, "val/loss": 0.3, "val/agreement": 0.95}
        dense = {"dense_val/acc1": 0.99, "dense_val/acc5": 1.0, "dense_val/loss": 0.1}
        deltas = {"delta_val/acc1": acc1 - 0.99, "delta_val/acc5": 0.0, "delta_val/loss": 0.2}
        metrics = {**accuracy, **dense, **deltas, **metrics}
    data = {"name": "digits", "kind": "digits", "batch_size": 128}
    config = {
        "data": data,
        "model": {"name": model, "source": "reference", "num_classes": 10},
        "hw": {"array": {"rows": 32, "cols": 32}, "sparsity": {"engine": "nm"}},
        "tasd": tasd,
        "trainer": {"accelerator": "cpu", "devices": 1, "enable_progress_bar": False},
        "logger": {"_target_": "lightning.pytorch.loggers.CSVLogger", "save_dir": output_dir},
        "mode": mode,
        "seed": seed,
        "strict": False,
        "cost": {"batch_size": 1, "stats_samples": 32},
        "debug": False,
        "output_dir": output_dir,
        "cache_dir": "/root/.cache/tasder",
        "hw_name": hw,
    }
    return {
        "model": model,
        "data": "digits" if mode == "eval" else None,
        "hw": hw,
        "tasd": copy.deepcopy(tasd),
        "mode": mode,
        "seed": seed,
        "metrics": metrics,
        "dense_layers": {"conv1.0": ["W: 1 channels along K is narrower than m=4"]},
        "wall_s": 1.9,
        "versions": {"tasder": "0.1.0", "torch": "2.x", "python": "3.11"},
        "git_sha": "0" * 40,
        "config": config,
    }


def _writer(db_path: str, writer: int, barrier) -> None:
    """One sweep job: waits for the others, then upserts PER_WRITER distinct records."""
    barrier.wait()
    for i in range(PER_WRITER):
        upsert(db_path, make_record(seed=writer * 1000 + i, acc1=0.5 + i / 200))


@pytest.fixture(scope="module")
def parallel_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("lb") / "sub" / "leaderboard.sqlite"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WRITERS)
    jobs = [ctx.Process(target=_writer, args=(str(db), w, barrier)) for w in range(WRITERS)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=60)
    assert [job.exitcode for job in jobs] == [0] * WRITERS
    return db


def test_parallel_writers_lose_no_rows(parallel_db):
    rows = read_rows(parallel_db)
    assert len(rows) == WRITERS * PER_WRITER
    assert len({r["key"] for r in rows}) == WRITERS * PER_WRITER
    assert {r["seed"] for r in rows} == {w * 1000 + i for w in range(4) for i in range(50)}
    assert all(r["status"] == "ok" and r["val/acc1"] >= 0.5 for r in rows)
    frame = read_frame(parallel_db)
    assert frame.shape[0] == WRITERS * PER_WRITER
    assert {"model", "hw", "tasd", "val/acc1", "hw/edp_reduction"} <= set(frame.columns)
    assert frame["tasd"].unique().tolist() == ["uniform W=2:4 A=-"]


def test_rerun_replaces_its_row_and_errors_show(parallel_db):
    # A re-run of one configuration in another output dir: same key, new values.
    rerun = make_record(seed=7, acc1=0.123, output_dir="/elsewhere")
    rerun["config"]["trainer"]["enable_progress_bar"] = True
    assert config_key(rerun) == config_key(make_record(seed=7))
    key = upsert(parallel_db, rerun)
    rows = read_rows(parallel_db)
    assert len(rows) == WRITERS * PER_WRITER
    assert [r["val/acc1"] for r in rows if r["key"] == key] == [0.123]

    # A newer metric key extends the table instead of breaking it.
    rerun["metrics"]["val/new_metric"] = 3
    upsert(parallel_db, rerun)
    assert [r["val/new_metric"] for r in read_rows(parallel_db) if r["key"] == key] == [3]

    failed = make_record(seed=99999)["config"]
    err_key = record_error(parallel_db, failed, "CUDA out of memory.\n  Tried to allocate 2 GiB")
    (row,) = [r for r in read_rows(parallel_db) if r["key"] == err_key]
    assert row["status"] == "error"
    assert row["error"] == "CUDA out of memory. Tried to allocate 2 GiB"
    assert (row["model"], row["hw"], row["seed"]) == ("reference_resnet", "2of4", 99999)
    assert len(read_rows(parallel_db)) == WRITERS * PER_WRITER + 1


def test_pareto_front_on_hand_made_points():
    points = [(0.1, 0.9), (0.2, 0.8), (0.15, 0.7), (0.3, 0.5), (0.3, 0.4), (0.05, 0.9)]
    assert pareto_front(points) == [0, 1, 3]  # ordered by x; (0.05, 0.9) is dominated by 0
    assert pareto_front([(0.1, 0.5), (0.1, 0.5)]) == [0, 1]  # equal points both stay
    assert pareto_front([(float("nan"), 1.0), (0.0, 0.0)]) == [1]
    assert pareto_front([]) == []


def test_render_tables_and_plots(tmp_path):
    db = tmp_path / "lb.sqlite"
    for weights, acc1, edp in [("2:4", 0.95, 0.2), ("1:4", 0.6, 0.4), ("2:8", 0.5, 0.1)]:
        upsert(db, make_record(weights=weights, acc1=acc1, edp_reduction=edp))
    upsert(db, make_record(model="reference_vit", hw="vegeta", acc1=0.9, edp_reduction=0.3))
    upsert(db, make_record(model="reference_vit", mode="cost", edp_reduction=0.5))
    record_error(db, make_record(model="reference_vit", seed=3)["config"], "boom")

    written = render(db, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == [
        "leaderboard.csv",
        "leaderboard.html",
        "leaderboard.md",
        "pareto_reference_resnet_2of4.png",
        "pareto_reference_vit_vegeta.png",  # the cost-only row gets no plot of its own
    ]
    assert all(p.stat().st_size > 0 for p in written)
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in written if p.suffix == ".png")
    md = (tmp_path / "out" / "leaderboard.md").read_text().splitlines()
    assert len(md) == 2 + 6
    resnet = [line for line in md if "reference_resnet" in line]
    assert ["1:4" in resnet[0], "2:4" in resnet[1], "2:8" in resnet[2]] == [True] * 3
    assert "| 0.9500 | -0.0400 | 0.9500 | 20.0% | 1.05x | 0.84x | ok |" in resnet[1]
    assert any("| error | boom |" in line for line in md)
    assert "<td>uniform W=1:4 A=-</td>" in (tmp_path / "out" / "leaderboard.html").read_text()
    assert not list((tmp_path / "out").glob("*.tmp")) and not list((tmp_path / "out").glob(".*"))


def test_cli_missing_db_exits_2(tmp_path):
    missing = tmp_path / "nope.sqlite"
    cmd = [sys.executable, "-m", "evaluation.leaderboard", "--db", str(missing)]
    out = subprocess.run([*cmd, "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "no leaderboard database" in out.stderr
    assert not missing.exists()


def test_perplexity_ranks_lower_first():
    from evaluation.leaderboard import table

    rows = [
        {"model": "lm", "hw": "2of4", "tasd": t, "val/ppl": ppl, "hw/edp_reduction": 0.2}
        for t, ppl in (("a", 30.0), ("b", 20.0))
    ]
    assert [r["tasd"] for r in table(rows, "val/ppl")] == ["b", "a"]
    assert [r["tasd"] for r in table(rows, "val/acc1")] == ["a", "b"]  # no such metric: by tasd
