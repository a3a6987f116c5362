"""Input and weight statistics of a profiled GEMM: density and non-zeros per block of m."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..tasd.stats import block_nnz_histogram

__all__ = ["attention_support", "input_stats", "support_stats", "weight_stats"]


def input_stats(
    x: torch.Tensor, dim: int, groups: int, block_sizes: Sequence[int]
) -> tuple[float, dict[int, tuple[int, ...]]]:
    """Density of ``x`` and its block histograms along ``dim``, blocks kept inside each group."""
    x = x.detach()
    if not x.is_floating_point():
        x = x.ne(0).float()
    dim %= x.ndim
    if groups > 1:
        x = x.unflatten(dim, (groups, x.shape[dim] // groups))
        dim += 1
    density = int(torch.count_nonzero(x)) / max(x.numel(), 1)
    hist = {m: tuple(block_nnz_histogram(x, m, dim)) for m in block_sizes}
    return density, hist


def attention_support(q, k, attn_mask, is_causal) -> torch.Tensor:
    """Where the attention probabilities can be non-zero, broadcastable to ``(..., L, S)``.

    Softmax is positive wherever the mask admits a position, so the first operand of ``AV`` is
    known from the mask alone and is never materialised (fused kernels do not either).
    """
    length, source = q.shape[-2], k.shape[-2]
    if is_causal:  # torch's convention: top-left aligned lower triangle
        return torch.ones(length, source, dtype=torch.bool, device=q.device).tril()
    if attn_mask is None:
        return torch.ones(1, source, dtype=torch.bool, device=q.device)
    if attn_mask.dtype == torch.bool:
        support = attn_mask
    else:  # additive mask: -inf, or the dtype's minimum that HuggingFace uses, masks out
        support = attn_mask > torch.finfo(attn_mask.dtype).min / 2
    return support.expand(*support.shape[:-1], source)


def support_stats(
    support: torch.Tensor, scores_numel: int, block_sizes: Sequence[int]
) -> tuple[float, dict[int, tuple[int, ...]]]:
    """Stats of the broadcast support: each of its rows stands for ``repeat`` score rows."""
    repeat = scores_numel // support.numel()
    density, hist = input_stats(support.float(), -1, 1, block_sizes)
    return density, {m: tuple(c * repeat for c in h) for m, h in hist.items()}


def weight_stats(weight: torch.Tensor, dim: int, block_sizes) -> dict:
    """Measured density and non-zeros per block of m along the weight's K dimension."""
    return {
        "weight_density": float((weight != 0).double().mean()),
        "weight_block_nnz_hist": {
            m: tuple(block_nnz_histogram(weight, m, dim=dim)) for m in block_sizes
        },
    }
