"""A TASD series over a ``(P, L, Q)`` view: term t keeps the top ``n_t`` of every ``m_t`` along L.

Two implementations with bit-identical results:

* the fused C++ kernel (``_nmkernel``, built at install time) for CPU tensors: the input is read
  once and every output written once, however many terms the series has;
* a vectorised torch path (pairwise comparisons inside each block), for every other device and
  for CPU when the extension could not be built (or ``TASDER_NO_KERNEL=1``).

Ranks use the house tie rule: among equal magnitudes the lower index wins.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch

from ..errors import InputError
from .blocks import blocked_view

__all__ = ["kernel_available", "kernel_name", "split_series"]

_KERNEL_MAX_M = 256
_KERNEL_MAX_TERMS = 8
# element size in bytes and exponent bits (a magnitude at or above them is Inf or NaN)
_KERNEL_DTYPES = {
    torch.float16: (2, 0x7C00),
    torch.bfloat16: (2, 0x7F80),
    torch.float32: (4, 0x7F800000),
    torch.float64: (8, 0x7FF0000000000000),
}
# Below this many values one thread is faster than starting more.
_PARALLEL_MIN_NUMEL = 1 << 16


def _load_kernel():
    """The best native build this CPU runs (AVX2, else baseline), or None without one."""
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        try:
            from . import _nmkernel_avx2

            return _nmkernel_avx2
        except ImportError:
            pass
    try:
        from . import _nmkernel

        return _nmkernel
    except ImportError:  # pragma: no cover - only on machines without a C++ compiler
        return None


_nmkernel = _load_kernel()


def kernel_available() -> bool:
    """True when the fused C++ kernel is importable (and not disabled by TASDER_NO_KERNEL=1)."""
    return _nmkernel is not None and os.environ.get("TASDER_NO_KERNEL", "") != "1"


def kernel_name() -> str:
    """Which implementation CPU tensors use: ``_nmkernel_avx2``, ``_nmkernel`` or ``torch``."""
    return _nmkernel.__name__.rsplit(".", 1)[-1] if kernel_available() else "torch"


def _uses_kernel(x3: torch.Tensor, patterns: Sequence[tuple[int, int]]) -> bool:
    return (
        kernel_available()
        and x3.device.type == "cpu"
        and x3.dtype in _KERNEL_DTYPES
        and len(patterns) <= _KERNEL_MAX_TERMS
        and math.lcm(*(m for _, m in patterns)) <= _KERNEL_MAX_M
    )


def _kernel_split(x3, patterns, terms3, res3, approx3, mask3) -> int:
    outputs = [*terms3, res3, approx3, mask3]
    for out in outputs:
        if out is not None and not out.is_contiguous():
            raise RuntimeError("internal: kernel outputs must be contiguous (P, L, Q) tensors")
    esize, exp_bits = _KERNEL_DTYPES[x3.dtype]
    threads = torch.get_num_threads() if x3.numel() >= _PARALLEL_MIN_NUMEL else 1
    return _nmkernel.decompose_series(
        x3.data_ptr(), tuple(x3.stride()),
        tuple(0 if t is None else t.data_ptr() for t in terms3),
        *(0 if t is None else t.data_ptr() for t in (res3, approx3, mask3)),
        tuple(x3.shape), tuple(patterns), esize, exp_bits, threads,
    )  # fmt: skip


def block_keep_mask(mag: torch.Tensor, n: int, block_dim: int) -> torch.Tensor:
    """Keep mask of the top ``n`` magnitudes along ``block_dim`` (ties: lower index wins).

    Pairwise comparisons, k(k-1)/2 for a block of k: for the small blocks N:M hardware uses this
    beats sorting and needs no scatter. Every comparison is exact, so results match the kernel.
    """
    size = mag.shape[block_dim]
    if n >= size:
        return torch.ones_like(mag, dtype=torch.bool)
    wins = torch.zeros(mag.shape, dtype=torch.int16, device=mag.device)
    for i in range(size):
        a_i = mag.select(block_dim, i)
        for j in range(i + 1, size):
            i_beats_j = a_i >= mag.select(block_dim, j)  # equal: lower index i wins
            wins.select(block_dim, i).add_(i_beats_j)
            wins.select(block_dim, j).add_(~i_beats_j)
    return wins >= size - n  # rank = (size - 1) - wins; keep the n best ranks


def _torch_term(residual: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Keep mask of one term over a ``(P, L, Q)`` residual."""
    view = blocked_view(residual, m)
    keep = block_keep_mask(view.full.abs(), n, 2).flatten(1, 2)
    if view.tail.shape[1]:
        keep = torch.cat([keep, block_keep_mask(view.tail.abs(), n, 1)], dim=1)
    return keep


def _torch_split(x3, patterns, terms3, res3, approx3, mask3) -> None:
    zero = torch.zeros((), dtype=x3.dtype, device=x3.device)
    residual, kept_any = x3, None
    for t, (n, m) in enumerate(patterns):
        keep = _torch_term(residual, n, m)
        if terms3[t] is not None:
            terms3[t].copy_(torch.where(keep, residual, zero))
        if t == 0 and mask3 is not None:
            mask3.copy_(keep)
        kept_any = keep if kept_any is None else kept_any | keep
        residual = torch.where(keep, zero, residual)
    if res3 is not None:
        res3.copy_(residual)
    if approx3 is not None:
        approx3.copy_(torch.where(kept_any, x3, zero))


def split_series(
    x3: torch.Tensor,
    patterns: Sequence[tuple[int, int]],
    terms3: Sequence[torch.Tensor | None] | None = None,
    res3: torch.Tensor | None = None,
    mask3: torch.Tensor | None = None,
    approx3: torch.Tensor | None = None,
) -> None:
    """Decompose ``x3`` by the greedy series ``patterns`` (``(n, m)`` pairs, keep n of m).

    Writes term t to ``terms3[t]``, the final residual to ``res3``, the sum of the terms to
    ``approx3`` and the keep mask of the first term to ``mask3`` (any may be None). All are
    contiguous ``(P, L, Q)`` tensors on the input's device that do not overlap it. NaN/Inf in
    ``x3`` raise ValueError.
    """
    terms3 = list(terms3) if terms3 is not None else [None] * len(patterns)
    if _uses_kernel(x3, patterns):
        nonfinite = _kernel_split(x3, patterns, terms3, res3, approx3, mask3)
    else:
        nonfinite = int((~torch.isfinite(x3)).sum())
        if not nonfinite:
            _torch_split(x3, patterns, terms3, res3, approx3, mask3)
    if nonfinite:
        raise InputError(
            f"tensor contains {nonfinite} NaN/Inf value(s) of {x3.numel()}: "
            "TASD needs finite values"
        )
