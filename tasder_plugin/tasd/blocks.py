"""Block views along one dimension, without padding or transposing copies.

A tensor is seen as ``(pre, L, post)`` with ``L`` the size of the blocked dimension. Its first
``L - L % m`` entries unflatten into full blocks ``(pre, nb, m, post)``; the last ``L % m`` form a
short tail block ``(pre, r, post)`` that is treated as if zero-padded to ``m``.
Every view here aliases the input: no data is copied for contiguous inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["BlockedView", "blocked_view", "check_dim", "check_tensor"]


def check_dim(x: torch.Tensor, dim: int) -> int:
    """Normalise ``dim`` (negative allowed); a clear ValueError when it is out of range."""
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {dim!r}")
    if x.ndim == 0:
        raise ValueError("cannot block a 0-d tensor: it has no dimension to run N:M blocks along")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(
            f"dim={dim} is out of range for a {x.ndim}-D tensor of shape {tuple(x.shape)} "
            f"(valid: {-x.ndim}..{x.ndim - 1})"
        )
    return dim % x.ndim


def check_tensor(x: torch.Tensor, what: str = "tensor") -> None:
    """Reject tensors TASD cannot rank by magnitude: non-tensors and non-float dtypes.

    NaN/Inf are rejected by the decomposition itself, in the same pass that reads the values.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{what} must be floating point, got dtype {x.dtype}")


@dataclass(frozen=True)
class BlockedView:
    """Aliasing views of a ``(pre, L, post)`` tensor split into blocks of ``m``."""

    full: torch.Tensor  # (pre, nb, m, post)
    tail: torch.Tensor  # (pre, r, post), r = L % m (may be 0)
    m: int


def blocked_view(x3: torch.Tensor, m: int) -> BlockedView:
    """Split the middle dimension of a 3-D tensor into full blocks of ``m`` plus a tail."""
    length = x3.shape[1]
    full_len = length - length % m
    full = x3[:, :full_len].unflatten(1, (full_len // m, m))
    return BlockedView(full=full, tail=x3[:, full_len:], m=m)


def as_3d(x: torch.Tensor, dim: int) -> torch.Tensor:
    """View ``x`` as ``(pre, L, post)`` around ``dim`` (copies only if strides forbid a view)."""
    pre = 1
    for size in x.shape[:dim]:
        pre *= size
    post = 1
    for size in x.shape[dim + 1 :]:
        post *= size
    return x.reshape(pre, x.shape[dim], post)
