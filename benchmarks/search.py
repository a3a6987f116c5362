"""Search benchmark: every strategy on the offline reference models, side by side in one run.

For each model x hardware x strategy: search wall time, forward passes, the EDP reduction of the
found plan (cost model, batch 1), and its top-1 drop on the search part, on the holdout part of
the calibration split (with its standard error), and on the evaluation split no search sees.
Prints ONE JSON object on stdout; progress goes to stderr.

    python benchmarks/search.py [--models reference_resnet20 ...] [--hw 2of4 vegeta flex8]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from tasder_plugin import apply_tasd_, remove_tasd_
from tasder_plugin.data.common import DATA_KINDS
from tasder_plugin.models import build_reference
from tasder_plugin.models.reference import reference_spec
from tasder_plugin.search import STRATEGIES, run_search

MODELS = ["reference_resnet", "reference_vit", "reference_resnet20", "reference_resnet20_sp90"]


@torch.no_grad()
def correct(model, x, y) -> torch.Tensor:
    return (model(x).argmax(1) == y).double()


def paired_drop(dense: torch.Tensor, found: torch.Tensor) -> tuple[float, float]:
    """Mean per-sample drop and its standard error (the same samples, dense vs plan)."""
    diff = dense - found
    return float(diff.mean()), float(diff.std()) / len(diff) ** 0.5


def run_one(model, calib, x_eval, y_eval, dense_correct, hw, strategy, max_drop) -> dict:
    start = time.perf_counter()
    found = run_search(model, calib, hw, max_drop=max_drop, strategy=strategy)
    wall = time.perf_counter() - start
    apply_tasd_(model, found.plan)
    try:
        plan_correct = correct(model, x_eval, y_eval)
    finally:
        remove_tasd_(model)
    drop_eval, drop_eval_se = paired_drop(dense_correct, plan_correct)
    s = found.summary
    return {
        "search_s": round(wall, 2),
        "forwards": s["forwards"],
        "layers_decomposed": f"{s['layers_decomposed']}/{s['layers_searched']}",
        "edp_reduction": round(s["estimated_reduction"], 4),
        "drop_search": round(s["drop_search"], 4),
        "drop_holdout": round(s["drop_holdout"], 4),
        "drop_holdout_se": round(s["drop_holdout_se"], 4),
        "drop_eval": round(drop_eval, 4),
        "drop_eval_se": round(drop_eval_se, 4),
        "phases_s": {name: row["seconds"] for name, row in s["phases"].items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--hw", nargs="+", default=["2of4", "vegeta", "flex8"])
    parser.add_argument("--strategies", nargs="+", choices=sorted(STRATEGIES.names()),
                        default=["uniform", "ranked", "greedy", "tasder"])  # fmt: skip
    parser.add_argument("--max-drop", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for name in args.models:
        spec = reference_spec(name)
        splits = spec.splits()
        batch = DATA_KINDS.get(spec.dataset).config().batch_size  # as the harness reads it
        calib = DataLoader(TensorDataset(*splits["calib"].tensors), batch_size=batch)
        x_eval, y_eval = splits["eval"].tensors
        model = build_reference(name)
        dense_correct = correct(model, x_eval, y_eval)  # once per model
        for hw in args.hw:
            for strategy in args.strategies:
                row = run_one(model, calib, x_eval, y_eval, dense_correct, hw, strategy,
                              args.max_drop)  # fmt: skip
                results[f"{name}/{hw}/{strategy}"] = row
                print(f"{name}/{hw}/{strategy}", row, file=sys.stderr, flush=True)
    print(json.dumps({"max_drop": args.max_drop, "threads": args.threads, "results": results},
                     indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
