"""Validate the analytic cost model against SCALE-Sim v3 and ZigZag 3.9 on matched hardware.

Each layer of :data:`tasder_plugin.validation.compare.LAYER_SET` (CIFAR ResNet-56 convs with the
stem and the stride-2 ones, ResNet-50 1x1 / 3x3 / stride-2 layers, a BERT-base GEMM) runs dense
and with 2:4 and 1:4 weights through our model, SCALE-Sim (compute cycles; DRAM where it is a
reference: see tasder_plugin/validation/scalesim.py) and ZigZag (DRAM bytes per operand, energy).
Prints a Markdown table, then one JSON object (per-row numbers and the summary ratios).
Needs the 'validate' extra (pip install -e ".[validate]"); takes minutes (SCALE-Sim simulates
every cycle of the big layers): --quick runs the CIFAR layers only.

    python benchmarks/validate_cost.py [--hw vegeta] [--quick] [--jobs 2] [--no-scalesim]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tasder_plugin.validation.compare import LAYER_SET, OUR_TILING, compare_layer

PATTERNS = ("dense", "2:4", "1:4")
OPERANDS = ("inputs", "weights", "outputs")


def _job(args):
    layer, pattern, hw, root, scalesim, lpf = args
    workdir = Path(root) / f"{layer.name}_{pattern.replace(':', 'of')}"
    ours = OUR_TILING.get((layer.name, pattern)) if hw == "vegeta" else None
    return compare_layer(layer, pattern, hw, workdir, scalesim=scalesim, lpf=lpf, our_tiling=ours)


def _ratio(a, b) -> float | None:
    return None if not b else a / b


def _sim(row: dict, key: str) -> dict:
    """ZigZag's own mapping, or (``zigzag_same_mapping``) ours where it was priced too."""
    if key == "zigzag_same_mapping":
        return row.get("zigzag_our_tiling", row["zigzag"])
    return row[key]


def _summarise(rows: list[dict]) -> dict:
    """Worst ratios ours / simulator over the rows where each comparison is meaningful."""
    out: dict = {}
    cycles = [r for r in rows if "scalesim" in r]
    if cycles:
        diffs = [abs(r["ours"]["compute_cycles"] - r["scalesim"]["compute_cycles"]) for r in cycles]
        out["scalesim_max_cycle_diff"] = max(diffs)
    dense = [r for r in rows if r["pattern"] == "dense"]
    for key in ("zigzag", "zigzag_same_mapping"):
        for op in OPERANDS:
            ratios = [
                _ratio(r["ours"]["dram_bytes"][op], _sim(r, key)["dram_bytes"][op]) for r in dense
            ]
            ratios = [x for x in ratios if x is not None]
            out[f"{key}_dense_{op}_ratio_range"] = [min(ratios), max(ratios)]
        energy = [r["ours"]["energy_j"] / _sim(r, key)["energy_j"] for r in dense]
        out[f"{key}_dense_energy_ratio_range"] = [min(energy), max(energy)]
    real = [r["ours"]["dram_bytes"]["inputs"] / r["real_bytes"]["inputs"] for r in dense]
    out["inputs_over_real_max"] = max(real)
    return out


def _variants(row: dict) -> list[dict]:
    """The row, and where ZigZag also priced our tiling, a row with that ("... ours")."""
    if "zigzag_our_tiling" not in row:
        return [row]
    same = {**row, "zigzag": row["zigzag_our_tiling"], "pattern": f"{row['pattern']} (our tiling)"}
    return [row, same]


def _table(rows: list[dict]) -> str:
    head = (
        "| layer | W | cycles ours / SCALE-Sim | in ours / ZigZag / real | w ours / ZigZag "
        "| out ours / ZigZag | energy uJ ours / ZigZag | bound |"
    )
    lines = [head, "|" + "---|" * 8]
    for r in [variant for row in rows for variant in _variants(row)]:
        o, z, real = r["ours"], r["zigzag"], r["real_bytes"]
        ss = r.get("scalesim", {}).get("compute_cycles", "-")
        d, zd = o["dram_bytes"], z["dram_bytes"]
        lines.append(
            f"| {r['layer']} | {r['pattern']} | {o['compute_cycles']:.0f} / {ss} "
            f"| {d['inputs']:.0f} / {zd['inputs']:.0f} / {real['inputs']:.0f} "
            f"| {d['weights']:.0f} / {zd['weights']:.0f} "
            f"| {d['outputs']:.0f} / {zd['outputs']:.0f} "
            f"| {o['energy_j'] * 1e6:.2f} / {z['energy_j'] * 1e6:.2f} | {o['bound']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hw", default="vegeta", help="a ws/os/is preset or a YAML path")
    parser.add_argument("--quick", action="store_true", help="CIFAR ResNet-56 layers only")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--lpf", type=int, default=6, help="ZigZag LOMA lpf_limit")
    parser.add_argument("--no-scalesim", action="store_true")
    args = parser.parse_args()
    layers = [layer for layer in LAYER_SET if not args.quick or layer.name.startswith("r56")]
    with tempfile.TemporaryDirectory() as root:
        jobs = [
            (layer, p, args.hw, root, not args.no_scalesim, args.lpf)
            for layer in layers
            for p in PATTERNS
        ]
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(pool.map(_job, jobs))
    print(_table(rows))
    print(json.dumps({"hw": args.hw, "lpf": args.lpf, "summary": _summarise(rows), "rows": rows}))


if __name__ == "__main__":
    main()
