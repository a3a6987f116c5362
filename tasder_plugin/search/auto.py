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

from ..config import check, replace_options
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
from ..nn.plan import check_targets
from ..tasd import tasd_stats
from ..tasd.patterns import Side, TASDSeries
from .candidates import SearchSpaceError, series_space

__all__ = ["AutoChoice", "AutoOptions", "auto_plan", "shortest_series"]


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


@dataclass(frozen=True)
class AutoOptions:
    """``min_kept_energy``: the share of each weight's energy the series must keep (0.999 cost
    1.4 top-1 points on reference_resnet_sp95 on flex8, 0.9999 none); ``max_terms``: the
    longest series; ``targets`` / ``ignore``: layer names or ``re:`` regexes."""

    min_kept_energy: float = 0.9999
    max_terms: int = 2
    targets: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        energy = self.min_kept_energy
        check(0.0 < energy <= 1.0, "min_kept_energy", f"must be in (0, 1], got {energy}")
        check(self.max_terms >= 1, "max_terms", f"must be an integer >= 1, got {self.max_terms}")
        check_targets(self.targets, self.ignore)


def auto_plan(
    model: nn.Module, hw: HardwareSpec | str, options: AutoOptions | None = None, **overrides
) -> tuple[ModelPlan, list[AutoChoice]]:
    """The ``auto`` plan for ``model`` on ``hw`` and the per-layer choices behind it
    (``overrides``: fields of :class:`AutoOptions`)."""
    opts = replace_options(options or AutoOptions(), overrides)
    min_kept_energy, max_terms, targets, ignore = (
        opts.min_kept_energy, opts.max_terms, opts.targets, opts.ignore
    )  # fmt: skip
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
        usable = [s for s in space if unsupported_reason(module, s, Side.W) is None]
        w = module.weight.detach()
        try:  # the decomposition rejects NaN/Inf weights itself; say which layer
            series, kept = shortest_series(
                w, usable, layer_kind(module).weight_dim, min_kept_energy
            )
        except ValueError as err:
            err.args = (f"layer {fqn!r} weight: {err}",)  # same class: a user error stays one
            raise
        layers[fqn] = LayerPlan(weights=series)
        density = float((w != 0).double().mean())
        choices.append(AutoChoice(fqn, series, kept, density))
    plan = ModelPlan({name: layers.get(name, LayerPlan()) for name in gemm_layer_names(model)})
    return plan, choices
