"""TASD: approximate a tensor by a greedy sum of N:M structured-sparse terms.

Term k keeps the n_k largest magnitudes of every block of m_k consecutive values along ``dim``
of the residual left by terms < k. Terms have disjoint support and ``sum(terms) + residual``
equals the input exactly (each position is non-zero in at most one of them).
"""

from __future__ import annotations

import torch

from ..errors import InputError
from .blocks import as_3d, check_dim, check_tensor
from .kernel import split_series
from .outputs import new_output
from .patterns import NMPattern, TASDSeries

__all__ = ["nm_mask", "decompose", "approximate", "as_series"]


def as_series(series: TASDSeries | NMPattern | str) -> TASDSeries:
    """Accept a typed series, a single pattern or its string form (parsed once, here)."""
    if isinstance(series, TASDSeries):
        return series
    if isinstance(series, NMPattern):
        return TASDSeries((series,))
    return TASDSeries.parse(series)


def _empty_like(x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    return new_output(x.shape, dtype or x.dtype, x.device)


def _check_finite(x: torch.Tensor) -> None:
    if x.numel() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise InputError(
            f"tensor contains {bad} NaN/Inf value(s) of {x.numel()}: TASD needs finite values"
        )


def nm_mask(x: torch.Tensor, n: int, m: int, dim: int = -1) -> torch.Tensor:
    """Boolean mask keeping the ``n`` largest magnitudes of every ``m`` values along ``dim``.

    Ties go to the lower index, so the mask is deterministic; a tail block shorter than ``m``
    keeps at most ``n`` values.
    """
    pattern = NMPattern(n, m)
    check_tensor(x)
    d = check_dim(x, dim)
    with torch.no_grad():
        mask = _empty_like(x, torch.bool)
        split_series(as_3d(x.detach(), d), [(pattern.n, pattern.m)], mask3=as_3d(mask, d))
    return mask


def decompose(
    x: torch.Tensor,
    series: TASDSeries | NMPattern | str,
    dim: int = -1,
    out: tuple[list[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Greedy TASD of ``x`` along ``dim``: returns ``(terms, residual)``.

    ``dense`` returns one term, a copy of ``x`` (one dense pass), and a zero residual. Outputs
    keep dtype and device, are contiguous and carry no autograd graph. ``out=(terms, residual)``
    writes into caller-owned buffers (one per term, each like ``x``) instead of new tensors.
    """
    series = as_series(series)
    check_tensor(x)
    d = check_dim(x, dim)
    count = 1 if series.is_dense else len(series)
    term_out, res_out = out if out is not None else ([None] * count, None)
    if len(term_out) != count:
        raise ValueError(f"out needs {count} term buffer(s) for {series}, got {len(term_out)}")
    with torch.no_grad():
        x = x.detach()
        terms = [_output(buffer, x) for buffer in term_out]
        residual = _output(res_out, x)
        if series.is_dense:
            _check_finite(x)
            terms[0].copy_(x)
            residual.zero_()
            return terms, residual
        split_series(
            as_3d(x, d),
            [(p.n, p.m) for p in series],
            terms3=[as_3d(t, d) for t in terms],
            res3=as_3d(residual, d),
        )
    return terms, residual


def _output(out: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """A caller's buffer, checked to fit ``x``, or a new contiguous tensor like ``x``."""
    if out is None:
        return _empty_like(x)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}")
    if out.shape != x.shape or out.dtype != x.dtype or out.device != x.device:
        raise ValueError(
            f"out must match the input: shape {tuple(x.shape)}, {x.dtype} on {x.device}; got "
            f"shape {tuple(out.shape)}, {out.dtype} on {out.device}"
        )
    if not out.is_contiguous():
        raise ValueError("out must be contiguous")
    if out.numel() and out.untyped_storage().data_ptr() == x.untyped_storage().data_ptr():
        raise ValueError("out must not share memory with the input")
    return out


def approximate(
    x: torch.Tensor,
    series: TASDSeries | NMPattern | str,
    dim: int = -1,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """The TASD approximation ``sum(terms)`` in one pass, without materialising the terms.

    Bit-identical to summing the terms of :func:`decompose` (their supports are disjoint).
    ``out`` (contiguous, same shape, dtype and device, not overlapping ``x``) receives the result
    instead of a new tensor, so callers that decompose repeatedly can reuse one buffer.
    """
    series = as_series(series)
    check_tensor(x)
    d = check_dim(x, dim)
    with torch.no_grad():
        x = x.detach()
        out = _output(out, x)
        if series.is_dense:
            _check_finite(x)
            out.copy_(x)
            return out
        split_series(as_3d(x, d), [(p.n, p.m) for p in series], approx3=as_3d(out, d))
    return out
