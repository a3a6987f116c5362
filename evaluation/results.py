"""results.json: one flat, self-describing record per run (the source of truth for leaderboards).

Metric keys follow ``stage/name`` (``val/acc1``, ``hw/edp_js``); HIGHER_IS_BETTER says which way
each one improves.
"""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path

import torch
from omegaconf import OmegaConf

import tasder_plugin
from tasder_plugin.atomic_io import write_text_atomic
from tasder_plugin.pipeline import cost_line
from tasder_plugin.profile.settings import costed_step

HIGHER_IS_BETTER = {
    "val/acc1": True,
    "val/acc5": True,
    "val/loss": False,
    "val/agreement": True,
    "val/fidelity": True,
    "val/f1": True,
    "val/ppl": False,
    "val/nll": False,
    "hw/cycles": False,
    "hw/latency_s": False,
    "hw/energy_j": False,
    "hw/edp_js": False,
    "hw/edp_reduction": True,
    "hw/speedup": True,
    "calib/metric": True,
    "calib/drop_search": False,
    "calib/drop_holdout": False,
}


def _git_sha() -> str | None:
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def _accuracy_fields(accuracy: dict | None, dense: dict | None) -> dict:
    if accuracy is None:
        return {}
    out = {k: v for k, v in accuracy.items() if k.startswith("val/")}
    for key in [k for k in out if k in dense]:
        out[f"dense_{key}"] = dense[key]
        out[f"delta_{key}"] = accuracy[key] - dense[key]
    return out


def _search_fields(details: dict) -> dict:
    """A search's calibration results: the metric on the whole split, the drop on each part."""
    search = details.get("search")
    if not search:
        return {}
    return {
        "calib/metric": search["metric_calib"],
        "dense_calib/metric": search["dense_metric_calib"],
        "calib/drop_search": search["drop_search"],
        "calib/drop_holdout": search["drop_holdout"],
        "search/forwards": search["forwards"],
    }


def build_results(cfg, applied, accuracy, dense, wall_s, details=None):
    """Flat metrics and the full results.json record. ``applied``: the
    :class:`~tasder_plugin.pipeline.AppliedPlan` (the callback's metrics, the same keys);
    ``details``: e.g. the search summary."""
    details = details or {}
    metrics = {**_accuracy_fields(accuracy, dense), **applied.metrics(), **_search_fields(details)}
    cost, reports = applied.cost, applied.reports
    record = {
        "model": cfg.model.name,
        "data": cfg.data.name if cfg.mode == "eval" else None,
        "hw": str(cfg.hw_name),
        "tasd": OmegaConf.to_container(cfg.tasd, resolve=True),
        "mode": cfg.mode,
        "seed": int(cfg.seed),
        "metrics": metrics,
        "dense_layers": {r.fqn: list(r.reasons) for r in reports if r.reasons},
        **details,
        "bounds": cost.bound_counts(),
        "layers": [r.as_row() for r in cost.per_layer],
        "wall_s": wall_s,
        "versions": {
            "tasder": tasder_plugin.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "git_sha": _git_sha(),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    return metrics, record


def write_json(path: Path, record: dict) -> Path:
    """Atomic: a reader never sees a half-written file."""
    return write_text_atomic(
        path, json.dumps(record, indent=2, sort_keys=False, default=str) + "\n"
    )


def print_paths(results: Path, leaderboard: str | None) -> None:
    """Where the run's outputs are: its directory, results.json and the leaderboard row."""
    print(f"run directory {_relative(str(results.parent))} | results {results.name}", end="")
    print(f" | leaderboard {_relative(leaderboard)}" if leaderboard else "")


def _relative(path: str) -> str:
    """``path`` relative to the working directory when it lies below it (shorter to read)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def print_summary(record: dict) -> None:
    m = record["metrics"]
    tasd = record["tasd"]
    if tasd.get("kind") == "search":  # the search's tuning knobs are in results.json
        budget = "max_increase" if tasd.get("max_increase") is not None else "max_drop"
        tasd = {k: tasd.get(k) for k in ("kind", "strategy", budget, "objective")}
    tasd = {"kind": tasd.get("kind"), **tasd}  # the kind first, then its options
    setting = ", ".join(f"{k}={v}" for k, v in tasd.items() if v not in (None, [], "none"))
    setting = setting or "none"
    data = record["data"] or "none (cost only)"
    print(f"model {record['model']} | data {data} | hw {record['hw']} | tasd {setting}")
    if "val/fidelity" in m:
        print(f"fidelity (mean cosine to dense embeddings) {m['val/fidelity']:.6f}")
    if "val/ppl" in m:
        print(
            f"perplexity {m['val/ppl']:.4f} (dense {m['dense_val/ppl']:.4f}, "
            f"delta {m['delta_val/ppl']:+.4f}) | next-token agreement with dense "
            f"{m['val/agreement']:.4f}"
        )
    if "val/acc1" in m:
        print(
            f"top-1 {m['val/acc1']:.4f} (dense {m['dense_val/acc1']:.4f}, "
            f"delta {m['delta_val/acc1']:+.4f}) | agreement with dense {m['val/agreement']:.4f}"
        )
    if "val/f1" in m:
        f1, dense_f1, delta = m["val/f1"], m["dense_val/f1"], m["delta_val/f1"]
        print(f"F1 {f1:.4f} (dense {dense_f1:.4f}, delta {delta:+.4f})")
    print(cost_line(m))
    print(
        f"layers: {m['tasd/layers_weights']} TASD-W, {m['tasd/layers_activations']} TASD-A "
        f"of {m['tasd/layers_planned']} planned"
    )
    if "bounds" in record:
        per = _costed_batch(record)
        bounds = ", ".join(f"{n} {name}" for name, n in record["bounds"].items())
        print(f"cost {per}latency bound by: {bounds} layers")
    if search := record.get("search"):
        _print_search(search)
        print(f"plan {_relative(search['plan'])} (reuse: tasd=plan tasd.path=...)")


def _costed_batch(record: dict) -> str:
    """What one cost is for: a batch of samples, or a causal LM's prefill or decode step."""
    cost = record.get("cost", {})
    batch = cost.get("batch_size")
    if not batch:
        return ""
    phase = cost.get("phase")
    tokens = record["config"]["data"]["seq_len"] if phase == "prefill" else None
    return costed_step(phase, batch, tokens, cost.get("context")) + ", "


def _print_search(search: dict) -> None:
    """Two lines: the drops (holdout with its standard error), then time and passes by phase."""
    holdout = f"{search['drop_holdout']:+.4f} +- {search['drop_holdout_se']:.4f}"
    budget = f"max_drop {search['max_drop']:g}"
    if "max_increase" in search:  # a perplexity budget, as the drop of log-likelihood it is
        budget = f"max_increase {search['max_increase']:g} = {budget} nats"
    print(
        f"search {search['strategy']} ({budget}, {search['metric']}): "
        f"calibration drop {search['drop_search']:+.4f} on {search['search_samples']} "
        f"search / {holdout} on {search['holdout_samples']} held-out samples"
    )
    phases = ", ".join(
        f"{name} {row['seconds']:.1f} s/{row['forwards']}" for name, row in search["phases"].items()
    )
    print(
        f"search time {search['wall_s']:.1f} s, {search['forwards']} forward passes "
        f"(per phase, s/passes: {phases})"
    )
