"""Cost every GEMM of timm resnet50 and vit_small_patch16_224 (random init, profiled once with a
batch of 1) under every candidate plan the `vegeta` and `flex8` presets allow (dense or up to two
supported terms per side, on weights and activations), and print one JSON object.

An evaluation is one (layer, weight series, activation series) triple costed in full: cover
rule, cycles, traffic, energy breakdown, latency. Candidate tables are built once per preset
(mapping is shape-independent) and timed separately; `evals_per_s` counts the per-layer closed
form only, `evals_per_s_incl_tables` includes building the tables.

    python benchmarks/cost.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import time

import timm
import torch

from tasder_plugin.hardware import build_table, cost_candidates, load_hardware
from tasder_plugin.profile import profile_model
from tasder_plugin.tasd import LayerPlan, TASDSeries


def candidate_series(patterns) -> list[TASDSeries | None]:
    """Dense, then every series of one or two supported (non-dense) patterns."""
    sparse = [p for p in patterns if not p.is_dense]
    series = [TASDSeries((p,)) for p in sparse]
    series += [TASDSeries(pair) for pair in itertools.product(sparse, repeat=2)]
    return [None, *series]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    profiles = {}
    for name in ("resnet50", "vit_small_patch16_224"):
        model = timm.create_model(name, pretrained=False).eval()
        profiles[name] = profile_model(model, torch.randn(1, 3, 224, 224))
    result = {"platform": platform.platform(), "python": platform.python_version()}
    evals = table_s = best_s = 0.0
    for hw_name in ("vegeta", "flex8"):
        hw = load_hardware(hw_name)
        weights = candidate_series(hw.sparsity.weights)
        acts = candidate_series(hw.sparsity.activations)
        pairs = [LayerPlan(w, a) for w, a in itertools.product(weights, acts)]
        start = time.perf_counter()
        tables = {flag: build_table(pairs, hw, is_weight_gemm=flag) for flag in (True, False)}
        table_s += time.perf_counter() - start
        records = [r for p in profiles.values() for r in p.records]
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for r in records:
                cost_candidates(r, tables[r.is_weight_gemm], hw)
            times.append(time.perf_counter() - start)
        best_s += min(times)
        evals += len(records) * len(pairs)
        result[f"{hw_name}_candidates_per_layer"] = len(pairs)
        result[f"{hw_name}_layers"] = len(records)
    result.update(
        evaluations=int(evals),
        total_s=round(best_s, 4),
        table_build_s=round(table_s, 4),
        evals_per_s=round(evals / best_s),
        evals_per_s_incl_tables=round(evals / (best_s + table_s)),
        repeats=args.repeats,
        torch_threads=torch.get_num_threads(),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
