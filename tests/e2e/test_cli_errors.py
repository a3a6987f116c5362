"""Every mistake a user can make on the command line: exit 2 and one line naming the key or the
fix. Compose-time mistakes are checked in-process through the real entry point (``main``);
the ones that only show at run time go through a real ``python -m evaluation`` process."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from evaluation.__main__ import main
from tests.warm_python import session_python

from .test_evaluate import run_cli

ROOT = Path(__file__).resolve().parents[2]
COST = ["mode=cost", "tasd=uniform"]


def run_main(monkeypatch, capsys, *args) -> tuple[int, list[str]]:
    """``tasder-eval args`` in-process; returns the exit status and the stderr lines."""
    monkeypatch.setattr(sys, "argv", ["tasder-eval", *args])
    with pytest.raises(SystemExit) as stop:
        main()
    return stop.value.code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["+tasd.weights=2:4"], "unknown key tasd.weights (valid: strategy, max_drop"),
        (["cost.batch_size=0"], "cost.batch_size must be an integer >= 1, got 0"),
        (["cost.batch_size=-3"], "cost.batch_size must be an integer >= 1, got -3"),
        (["tasd.cost_batch_size=0"], "unknown key tasd.cost_batch_size"),  # the cost node's
        (["tasd.max_drop=5"], "tasd.max_drop must be a fraction in [0, 1)"),
        (["tasd.max_drop=abc"], "tasd.max_drop: Value 'abc' of type 'str' could not be converted"),
        (["seed=abc"], "seed: Value 'abc' of type 'str' could not be converted to Integer"),
        (["tasd.max_dorp=0.02"], "unknown key tasd.max_dorp; did you mean 'max_drop'?"),
        (["tasd=uniform", "tasd.ignore=['re:(']"], "tasd.ignore entry 're:(' is not a valid"),
        (["tasd=plan"], "missing value for tasd.path: set tasd.path=..."),
        (["tasd=plan", "tasd.path=/nonexistent/plan.yaml"], "tasd.path names no file"),
        (["model=resnet5"], "unknown model 'resnet5'; did you mean 'resnet50'?"),
        (["hw=vegetta"], "unknown hw 'vegetta'; did you mean 'vegeta'?"),
        (["data=digitz"], "unknown data 'digitz'; did you mean 'digits'?"),
        (["tasd=uniform", "tasd.weights=5:4"], "tasd.weights: invalid TASD series '5:4'"),
        (["model.task=clasification"], "model.task must be one of"),
        (["mode=evaluate"], "mode must be one of eval, cost"),
        (["data.batch_size=0"], "data.batch_size must be an integer >= 1"),
        (["hw.array.rows=many"], "hw.array.rows: Value 'many' of type 'str'"),
        (["hw.array.colz=3"], "unknown key hw.array.colz; did you mean 'cols'?"),
        (["trainer.acelerator=cpu"], "unknown key trainer.acelerator; did you mean 'accelerator'?"),
    ],
)  # fmt: skip
def test_compose_time_mistakes_are_one_line(args, expected, monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and expected in err[0], err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_trainer_without_a_gpu_is_one_line(monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, "trainer=gpu")
    assert code == 2 and err == [
        "error: trainer.accelerator=gpu needs a CUDA GPU and none is visible on this machine: "
        "use trainer=cpu"
    ]


def test_an_unwritable_run_directory_is_one_line(monkeypatch, capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")  # root may write anywhere: a file where a folder belongs fails for all
    code, err = run_main(monkeypatch, capsys, *COST, f"hydra.run.dir={blocker / 'run'}")
    assert code == 2 and len(err) == 1
    assert f"{blocker} is not a writable folder (set hydra.run.dir=...)" in err[0]


def test_a_sweep_with_a_bad_value_fails_before_any_job(monkeypatch, capsys, tmp_path):
    sweep = tmp_path / "sweep"
    code, err = run_main(monkeypatch, capsys, "-m", *COST, "hw=2of4,vegetta",
                         f"hydra.sweep.dir={sweep}")  # fmt: skip
    assert code == 2 and "unknown hw 'vegetta'" in err[0] and not sweep.exists()


@pytest.mark.slow
@pytest.mark.parametrize("board", ["directory", "not_sqlite"])
def test_an_unwritable_leaderboard_keeps_the_run(board, tmp_path):
    target = tmp_path / board
    target.mkdir() if board == "directory" else target.write_text("plain text, not a database")
    run_dir = tmp_path / "run"
    out = run_cli(*COST, f"leaderboard_db={target}", tmp_path=tmp_path)  # runs in tmp_path/run
    assert out.returncode == 0, out.stderr[-2000:]
    assert "EDP reduction" in out.stdout and (run_dir / "results.json").is_file()
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and f"cannot write leaderboard {target}" in warnings[0]
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_an_unwritable_cache_keeps_the_run(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    run_dir = tmp_path / "run"
    out = run_cli("tasd=uniform", f"cache_dir={blocker / 'cache'}",
                  "trainer.enable_progress_bar=false", tmp_path=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "top-1" in out.stdout and (run_dir / "results.json").is_file()
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "dense accuracy not cached: cannot write" in warnings[0]


def test_the_leaderboard_cli_reports_an_unwritable_output_in_one_line(tmp_path):
    from evaluation.leaderboard import main as leaderboard_main
    from evaluation.leaderboard_db import upsert

    db = tmp_path / "board.sqlite"
    upsert(db, {"config": {"model": "m"}, "model": "m", "hw": "2of4", "metrics": {}})
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert leaderboard_main(["--db", str(db), "--out", str(blocker / "out")]) == 2


@pytest.mark.slow
def test_an_internal_error_shows_its_traceback(tmp_path):
    """A bug (not a user mistake) is never folded into one line."""
    inject = (
        "import sys, evaluation.run as run\n"
        "def boom(*a, **k): raise RuntimeError('injected bug')\n"
        "run.apply_and_cost_ = boom\n"
        "from evaluation.__main__ import main\n"
        f"sys.argv = ['tasder-eval', 'mode=cost', 'tasd=uniform', 'hydra.run.dir={tmp_path}/run']\n"
        "main()\n"
    )
    out = subprocess.run([session_python(), "-c", inject], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "TASDER_LEADERBOARD": str(tmp_path / "b")},
                         timeout=300)  # fmt: skip
    assert out.returncode == 1
    assert "Traceback" in out.stderr and "RuntimeError: injected bug" in out.stderr
    assert "error: " not in out.stderr
