"""Global magnitude pruning: how the project makes its unstructured-sparse reference models.

One threshold over the weights of every GEMM layer (conv and linear) zeroes the smallest
magnitudes of the whole network, so layers end up with different densities, as magnitude-pruned
models in the wild do. The masks are then held fixed during a short fine-tuning.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..nn import gemm_layer_names

__all__ = ["apply_masks_", "global_magnitude_masks", "weight_sparsity"]


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: model.get_submodule(name).weight for name in gemm_layer_names(model)}


@torch.no_grad()
def global_magnitude_masks(model: nn.Module, sparsity: float) -> dict[str, torch.Tensor]:
    """Keep masks zeroing the ``sparsity`` fraction of smallest |w| over all GEMM weights."""
    if not 0.0 <= sparsity < 1.0:
        raise ConfigError(f"sparsity must be in [0, 1), got {sparsity}")
    weights = _weights(model)
    magnitudes = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    count = int(round(sparsity * magnitudes.numel()))
    if count == 0:
        return {name: torch.ones_like(w, dtype=torch.bool) for name, w in weights.items()}
    # the count-th smallest magnitude; ties at the threshold are broken by a stable sort
    order = magnitudes.argsort(stable=True)
    keep = torch.ones_like(magnitudes, dtype=torch.bool)
    keep[order[:count]] = False
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start : start + w.numel()].view_as(w)
        start += w.numel()
    return masks


@torch.no_grad()
def apply_masks_(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    for name, mask in masks.items():
        model.get_submodule(name).weight.mul_(mask)


@torch.no_grad()
def weight_sparsity(model: nn.Module) -> float:
    """Fraction of zeros over all GEMM weights."""
    weights = list(_weights(model).values())
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / sum(w.numel() for w in weights)
