"""An independent, deliberately plain TASD used as the oracle in tests.

Stable sort per block (ties keep their order, so the lower index wins); padding ranks last.
"""

import torch
import torch.nn.functional as F


def reference_mask(x: torch.Tensor, n: int, m: int, dim: int) -> torch.Tensor:
    moved = x.movedim(dim, -1)
    length = moved.shape[-1]
    mag = moved.abs().double()
    padded = F.pad(mag, (0, (-length) % m), value=-1.0)  # padding is never kept
    blocks = padded.reshape(-1, m)
    order = torch.sort(blocks, dim=-1, descending=True, stable=True).indices
    mask = torch.zeros_like(blocks, dtype=torch.bool)
    mask.scatter_(-1, order[:, :n], True)
    mask = mask.reshape(padded.shape)[..., :length]
    return mask.movedim(-1, dim)


def reference_decompose(x, patterns, dim):
    terms, residual = [], x.clone()
    for n, m in patterns:
        keep = reference_mask(residual, n, m, dim)
        zero = torch.zeros((), dtype=x.dtype)
        terms.append(torch.where(keep, residual, zero))
        residual = torch.where(keep, zero, residual)
    return terms, residual
