"""Search benchmark: every strategy on the offline reference models, side by side in one run.

For each model x hardware x strategy: search wall time, forward passes, the EDP reduction of the
found plan from the cost model, and its top-1 drop on the calibration parts and on the digits
evaluation split (which no search sees). Prints one JSON object.

    python benchmarks/search.py [--models reference_resnet reference_vit] [--hw 2of4 vegeta]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from tasder_plugin import ModelPlan, apply_tasd_, estimate_cost, profile_model, remove_tasd_
from tasder_plugin.data.digits import digits_splits
from tasder_plugin.models.adapters import ModelConfig, build_model
from tasder_plugin.nn import effective_plan
from tasder_plugin.search import run_search


@torch.no_grad()
def top1(model, x, y) -> float:
    return float((model(x).argmax(1) == y).double().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["reference_resnet", "reference_vit"])
    parser.add_argument("--hw", nargs="+", default=["2of4", "vegeta"])
    parser.add_argument("--strategies", nargs="+", default=["uniform", "greedy", "tasder"])
    parser.add_argument("--max-drop", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    splits = digits_splits()
    calib = DataLoader(TensorDataset(*splits["calib"].tensors), batch_size=128)
    x_eval, y_eval = splits["eval"].tensors
    results = {}
    for name in args.models:
        model = build_model(ModelConfig(name=name, source="reference", architecture=name))
        model.eval()
        profile = profile_model(model, x_eval[:32], batch_size=1)
        dense_top1 = top1(model, x_eval, y_eval)
        for hw in args.hw:
            dense_cost = estimate_cost(profile, ModelPlan.dense(model), hw)
            for strategy in args.strategies:
                start = time.perf_counter()
                found = run_search(
                    model, calib, hw, max_drop=args.max_drop, strategy=strategy, profile=profile
                )
                wall = time.perf_counter() - start
                reports = apply_tasd_(model, found.plan)
                try:
                    eval_top1 = top1(model, x_eval, y_eval)
                finally:
                    remove_tasd_(model)
                cost = estimate_cost(profile, effective_plan(found.plan, reports), hw)
                s = found.summary
                results[f"{name}/{hw}/{strategy}"] = {
                    "search_s": round(wall, 2),
                    "forwards": s["forwards"],
                    "layers_decomposed": f"{s['layers_decomposed']}/{s['layers_searched']}",
                    "edp_reduction": round(cost.vs(dense_cost).edp_reduction, 4),
                    "drop_search": round(s["drop_search"], 4),
                    "drop_holdout": round(s["drop_holdout"], 4),
                    "drop_eval": round(dense_top1 - eval_top1, 4),
                }
                print(f"{name}/{hw}/{strategy}", results[f"{name}/{hw}/{strategy}"], flush=True)
    print(json.dumps({"max_drop": args.max_drop, "results": results}, indent=1))


if __name__ == "__main__":
    main()
