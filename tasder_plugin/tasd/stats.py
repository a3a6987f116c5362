"""How well a TASD series captures a tensor: density, kept energy, error, per-block histograms.

Norms are accumulated in float64 so that fp16/bf16 tensors report meaningful numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .blocks import as_3d, blocked_view, check_dim, check_tensor
from .decompose import as_series, decompose
from .patterns import NMPattern, TASDSeries

__all__ = ["TASDStats", "tasd_stats", "block_nnz_histogram"]


def block_nnz_histogram(x: torch.Tensor, m: int, dim: int = -1) -> list[int]:
    """Number of blocks of ``m`` along ``dim`` holding 0, 1, ..., m non-zeros (tail included).

    This is what decides how well an N:M pattern fits a (sparse) tensor: a block with at most n
    non-zeros is captured exactly by ``n:m``.
    """
    NMPattern(1, m)  # validates m
    check_tensor(x)
    d = check_dim(x, dim)
    with torch.no_grad():
        view = blocked_view(as_3d(x, d), m)
        counts = torch.zeros(m + 1, dtype=torch.int64, device=x.device)
        full = (view.full != 0).sum(dim=2).flatten()
        counts += torch.bincount(full, minlength=m + 1)
        if view.tail.shape[1]:
            tail = (view.tail != 0).sum(dim=1).flatten()
            counts += torch.bincount(tail, minlength=m + 1)
    return [int(c) for c in counts.tolist()]


@dataclass(frozen=True)
class TASDStats:
    """Summary of ``x ~= sum(terms)``; fractions are in [0, 1]."""

    series: str
    numel: int
    density: float  # non-zeros of the approximation / numel
    input_density: float  # non-zeros of x / numel
    term_densities: tuple[float, ...]  # non-zeros of each term / numel
    kept_energy: float  # ||approx||^2 / ||x||^2 (1.0 for an all-zero x)
    relative_error: float  # ||x - approx||_F / ||x||_F (0.0 for an all-zero x)
    block_nnz_histograms: tuple[tuple[int, ...], ...]  # per term, over blocks of that term's m

    def as_dict(self) -> dict:
        return asdict(self)


def _sq_norm(t: torch.Tensor) -> float:
    return float(t.double().square().sum())


def tasd_stats(x: torch.Tensor, series: TASDSeries | NMPattern | str, dim: int = -1) -> TASDStats:
    """Decompose ``x`` and report how much of it the series keeps and how it is distributed."""
    series = as_series(series)
    terms, residual = decompose(x, series, dim)
    d = check_dim(x, dim)
    numel = max(x.numel(), 1)
    with torch.no_grad():
        total = _sq_norm(x)
        kept = sum(_sq_norm(t) for t in terms)
        resid = _sq_norm(residual)
        term_nnz = [int(torch.count_nonzero(t)) for t in terms]
        histograms = tuple(
            tuple(block_nnz_histogram(t, p.m, d)) for t, p in zip(terms, series.patterns)
        )
    return TASDStats(
        series=str(series),
        numel=x.numel(),
        density=sum(term_nnz) / numel,
        input_density=int(torch.count_nonzero(x)) / numel,
        term_densities=tuple(nnz / numel for nnz in term_nnz),
        kept_energy=1.0 if total == 0 else kept / total,
        relative_error=0.0 if total == 0 else (resid / total) ** 0.5,
        block_nnz_histograms=histograms,
    )
