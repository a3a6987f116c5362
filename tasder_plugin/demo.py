"""`python -m tasder_plugin`: a one-screen, offline demonstration of TASD.

It decomposes a seeded random weight matrix (dense) and two magnitude-pruned copies of it
(80% and 95% unstructured sparsity) with a few series, and prints how much of each tensor every
series keeps. It shows the two facts TASDER builds on: a dense tensor loses energy to one N:M
term but is recovered by a short series, and an unstructured-sparse tensor is captured almost
exactly by a series the hardware can run.
"""

from __future__ import annotations

import argparse

import torch

from .tasd import tasd_stats

SERIES = ("2:4", "1:8", "2:4+1:8", "2:4+2:4", "1:8+1:8")
SPARSITIES = (0.0, 0.8, 0.95)


def pruned(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Global magnitude pruning: zero the `sparsity` fraction of smallest magnitudes."""
    if sparsity == 0:
        return weight.clone()
    k = int(weight.numel() * sparsity)
    threshold = weight.abs().flatten().kthvalue(k).values
    return torch.where(weight.abs() > threshold, weight, torch.zeros((), dtype=weight.dtype))


def demo_rows(rows: int = 256, cols: int = 1024, seed: int = 0) -> list[dict]:
    """One flat row per (tensor, series): density, kept energy, relative error."""
    weight = torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed))
    out = []
    for sparsity in SPARSITIES:
        tensor = pruned(weight, sparsity)
        for series in SERIES:
            stats = tasd_stats(tensor, series, dim=1)  # blocks along the reduction dimension
            out.append(
                {
                    "tensor": f"{rows}x{cols} {int(sparsity * 100)}% sparse",
                    "series": stats.series,
                    "input_density": stats.input_density,
                    "density": stats.density,
                    "kept_energy": stats.kept_energy,
                    "relative_error": stats.relative_error,
                }
            )
    return out


def format_table(rows: list[dict]) -> str:
    header = f"{'tensor':<22} {'series':<9} {'density':>8} {'kept_energy':>12} {'rel_error':>10}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r['tensor']:<22} {r['series']:<9} {r['density']:>8.3f} "
            f"{r['kept_energy']:>12.4f} {r['relative_error']:>10.4f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tasder_plugin", description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("TASD: W ~= sum of N:M terms (n:m keeps n of every m values along the reduction dim)")
    print(format_table(demo_rows(seed=args.seed)))


if __name__ == "__main__":
    main()
