"""Uniform 2:4 weights (and, separately, 2:4 activations) on every GEMM layer: speed-up and EDP
reduction per hardware preset at batch 1, and per layer kind the speed-up beside what halving
the MAC cycles would give (the compute-cycle ratio: the ideal for compute-bound layers).

Models (random weights: costs do not depend on the values, only activation densities do, and
these are measured on random inputs): CIFAR ResNet-56 at 32x32 and timm ResNet-50 at 224x224.
Prints a Markdown table, then one JSON object.

    python benchmarks/uniform_speedup.py [--hw 2of4 vegeta flex8] [--models cifar_resnet56 resnet50]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import timm
import torch

import tasder_plugin.models  # noqa: F401  (registers cifar_resnet56 with timm)
from tasder_plugin import ModelPlan, estimate_cost, profile_model

SIZES = {"cifar_resnet56": 32, "resnet50": 224}


def layer_kind(record, first: bool) -> str:
    """``stem``, ``conv3x3``, ``conv3x3/s2``, ``conv1x1``, ``linear``..."""
    if first:
        return "stem"
    if record.conv is None:
        return record.op
    (kh, kw), (sh, _) = record.conv.kernel, record.conv.stride
    return f"conv{kh}x{kw}" + (f"/s{sh}" if sh > 1 else "")


def by_kind(profile, cost, dense) -> dict:
    """Per kind: layers, speed-up, compute-cycle ratio, share of compute-bound dense layers."""
    sums = defaultdict(lambda: defaultdict(float))
    for i, (rec, row, base) in enumerate(zip(profile.records, cost.per_layer, dense.per_layer)):
        s = sums[layer_kind(rec, i == 0)]
        s["layers"] += 1
        s["latency_s"] += row.latency_s
        s["dense_latency_s"] += base.latency_s
        s["compute_cycles"] += row.compute_cycles
        s["dense_compute_cycles"] += base.compute_cycles
        s["compute_bound"] += base.bound == "compute"
    return {
        kind: {
            "layers": int(s["layers"]),
            "speedup": s["dense_latency_s"] / s["latency_s"],
            "compute_ratio": s["dense_compute_cycles"] / s["compute_cycles"],
            "dense_compute_bound": int(s["compute_bound"]),
        }
        for kind, s in sums.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hw", nargs="+", default=["2of4", "vegeta", "flex8"])
    parser.add_argument("--models", nargs="+", default=list(SIZES))
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    for name in args.models:
        model = timm.create_model(name, pretrained=False).eval()
        x = torch.randn(1, 3, SIZES[name], SIZES[name])
        profile = profile_model(model, x, progress=False)
        plans = {"2:4 W": ModelPlan.uniform(model, weights="2:4")}
        plans["2:4 A"] = ModelPlan.uniform(model, activations="2:4")
        for hw in args.hw:
            dense = estimate_cost(profile, ModelPlan.dense(model), hw)
            for label, plan in plans.items():
                cost = estimate_cost(profile, plan, hw)
                vs = cost.vs(dense)
                rows.append({
                    "model": name, "hw": hw, "plan": label, "speedup": vs.speedup,
                    "edp_reduction": vs.edp_reduction, "kinds": by_kind(profile, cost, dense),
                })  # fmt: skip
    print("| model | hw | plan | speed-up | EDP reduction | by layer kind: speed-up (MAC cycles) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        kinds = ", ".join(
            f"{k} x{v['layers']}: {v['speedup']:.2f} ({v['compute_ratio']:.2f})"
            for k, v in r["kinds"].items()
        )
        print(
            f"| {r['model']} | {r['hw']} | {r['plan']} | {r['speedup']:.2f}x "
            f"| {r['edp_reduction']:.1%} | {kinds} |"
        )
    print(json.dumps({"batch_size": 1, "rows": rows}))


if __name__ == "__main__":
    main()
