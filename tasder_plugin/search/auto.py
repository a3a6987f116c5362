"""``auto`` TASD-W: per layer, the shortest supported series that keeps a weight's energy.

An unstructured-sparse weight at density d is often captured (almost) exactly by one or two N:M
terms; this picks, with no data and no search, the series with the fewest terms (then the lowest
density) among those the hardware runs on weights whose approximation keeps at least
``min_kept_energy`` of ||W||^2. Series that may keep every value (``2:4+2:4``) are not offered:
they compress nothing. A layer no series captures well enough stays dense.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..hardware import load_hardware
from ..hardware.spec import HardwareSpec
from ..nn import (
    LayerPlan,
    ModelPlan,
    gemm_layer_names,
    layer_kind,
    select_layers,
    unsupported_reason,
)
from ..tasd import tasd_stats
from ..tasd.patterns import TASDSeries
from .candidates import SearchSpaceError, series_space

__all__ = ["AutoChoice", "auto_plan", "shortest_series"]


@dataclass(frozen=True)
class AutoChoice:
    fqn: str
    series: TASDSeries | None  # None: no candidate kept enough energy (dense)
    kept_energy: float  # of the chosen series (1.0 when dense)
    weight_density: float  # measured fraction of non-zero weights


def shortest_series(
    weight: torch.Tensor, candidates: list[TASDSeries], dim: int, min_kept_energy: float
) -> tuple[TASDSeries | None, float]:
    """The first of ``candidates`` in (terms, density) order keeping ``min_kept_energy``."""
    for series in sorted(candidates, key=lambda s: (len(s), s.max_density, str(s))):
        kept = tasd_stats(weight, series, dim).kept_energy
        if kept >= min_kept_energy:
            return series, kept
    return None, 1.0


def auto_plan(
    model: nn.Module,
    hw: HardwareSpec | str,
    *,
    min_kept_energy: float = 0.9999,
    max_terms: int = 2,
    targets=None,
    ignore=(),
) -> tuple[ModelPlan, list[AutoChoice]]:
    """The ``auto`` plan for ``model`` on ``hw`` and the per-layer choices behind it."""
    if not 0.0 < min_kept_energy <= 1.0:
        raise ValueError(f"min_kept_energy must be in (0, 1], got {min_kept_energy}")
    hw = load_hardware(hw)
    # a series that may keep every value (2:4+2:4, 2:4+4:8) compresses nothing: dense is cheaper
    space = [s for s in series_space(hw.sparsity.weights, max_terms) if s.max_density < 1]
    if not space:
        raise SearchSpaceError(
            f"hardware {hw.name!r} supports no sparse N:M pattern on weights; tasd=auto "
            "(TASD-W) has nothing to choose from"
        )
    layers, choices = {}, []
    for fqn in select_layers(model, targets, ignore):
        module = model.get_submodule(fqn)
        usable = [s for s in space if unsupported_reason(module, s, "W") is None]
        w = module.weight.detach()
        try:  # the decomposition rejects NaN/Inf weights itself; say which layer
            series, kept = shortest_series(
                w, usable, layer_kind(module).weight_dim, min_kept_energy
            )
        except ValueError as err:
            raise ValueError(f"layer {fqn!r} weight: {err}") from None
        layers[fqn] = LayerPlan(weights=series)
        density = float((w != 0).double().mean())
        choices.append(AutoChoice(fqn, series, kept, density))
    plan = ModelPlan({name: layers.get(name, LayerPlan()) for name in gemm_layer_names(model)})
    return plan, choices
