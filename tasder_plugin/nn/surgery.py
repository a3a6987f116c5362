"""Apply and remove TASD on a model, in place.

TASD-W replaces each planned layer's weight data by its folded approximation (the sum of the
terms), so evaluation costs exactly what dense evaluation costs; the original data is kept on the
layer so that :func:`remove_tasd_` restores it bit for bit. TASD-A decomposes the layer's input
on the fly with a forward pre-hook. Layers that cannot be blocked (a group narrower than m, a
forward that transforms its weight) stay dense and the report says why; nothing is silently
wrong.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import nn

from ..tasd import TASDSeries, approximate
from ..tasd.patterns import Side
from .layers import LayerKind, layer_kind, weight_transform_reason
from .plan import LayerPlan, ModelPlan

__all__ = [
    "LayerReport",
    "apply_tasd_",
    "approximate_input",
    "effective_plan",
    "remove_tasd_",
    "tasd_layer_stats",
    "tasd_layers",
    "unsupported_reason",
]

_STATE = "_tasd_state"


@dataclass
class _LayerState:
    """What apply_tasd_ changed on one layer, so remove_tasd_ can undo it exactly."""

    original_weight: torch.Tensor | None = None
    tied_weight: nn.Parameter | None = None  # the shared Parameter this layer was untied from
    hook: torch.utils.hooks.RemovableHandle | None = None
    report: LayerReport | None = None
    stats: dict | None = None


@dataclass(frozen=True)
class LayerReport:
    """What happened to one planned layer: which series ran and, if not, why."""

    fqn: str
    op: str
    weights: str | None  # the series applied to the weight, or None (dense)
    activations: str | None  # the series applied to the input, or None (dense)
    reasons: tuple[str, ...] = field(default=())  # why a planned side stayed dense


class _ActivationBuffer:
    """One reusable output buffer per TASD-A layer.

    Allocating a fresh activation-sized tensor for every call costs as much as decomposing it
    (mmap, page faults). The buffer is reused only when that is provably safe: gradients are off
    (autograd would save it for backward) and nothing but this cache references it (a user hook
    that kept last call's input keeps its own copy intact).
    """

    def __init__(self) -> None:
        self.tensor: torch.Tensor | None = None

    def get(self, like: torch.Tensor) -> torch.Tensor | None:
        if torch.is_grad_enabled():
            self.tensor = None
            return None
        buf = self.tensor
        reusable = (
            buf is not None
            and buf.shape == like.shape
            and buf.dtype == like.dtype
            and buf.device == like.device
            and buf._use_count() == 1
            and sys.getrefcount(buf) <= 3  # self.tensor, the local name, the call's argument
        )
        if not reusable:
            buf = self.tensor = torch.empty(like.shape, dtype=like.dtype, device=like.device)
        return buf


def approximate_input(
    x: torch.Tensor, series: TASDSeries, kind: LayerKind, groups: int, out=None
) -> torch.Tensor:
    """TASD-A of one layer input: blocks along the input's K dimension, never across a group."""
    if groups > 1:  # split channels into (groups, per group)
        dim = kind.input_dim % x.ndim
        shape = (groups, x.shape[dim] // groups)
        grouped_out = None if out is None else out.unflatten(dim, shape)
        y = approximate(x.unflatten(dim, shape), series, dim=dim + 1, out=grouped_out)
        return y.flatten(dim, dim + 1)
    return approximate(x, series, dim=kind.input_dim, out=out)


def unsupported_reason(module: nn.Module, series: TASDSeries, side: Side) -> str | None:
    """Why surgery would leave ``side`` of ``module`` dense under ``series``."""
    kind = layer_kind(module)
    if side == Side.W and (reason := weight_transform_reason(module)):
        return reason
    return series.narrow_row_reason(kind.channels_per_group(module), side)


def _activation_hook(series: TASDSeries, kind: LayerKind, groups: int):
    """Forward pre-hook decomposing the layer input along its K dimension (per group)."""
    buffer = _ActivationBuffer()

    def hook(module: nn.Module, args: tuple):
        if not args or not isinstance(args[0], torch.Tensor):
            raise ValueError(
                f"TASD-A on {type(module).__name__}: expected the input as first positional arg"
            )
        x = args[0]
        return (approximate_input(x, series, kind, groups, out=buffer.get(x)), *args[1:])

    return hook


def _apply_weights(fqn, module, kind, series, state, reasons, tied: bool) -> str | None:
    """Fold the series into the weight; a weight tied to another module (an LM head sharing the
    input embedding) is untied first, so only this layer sees the approximation."""
    reason = unsupported_reason(module, series, Side.W)
    if reason:
        reasons.append(reason)
        return None
    weight = module.weight
    try:
        folded = approximate(weight.detach(), series, dim=kind.weight_dim)
    except ValueError as err:
        err.args = (f"layer {fqn!r} weight: {err}",)  # same class: a user error stays one
        raise
    if tied:
        state.tied_weight = weight
        module.weight = nn.Parameter(folded, requires_grad=weight.requires_grad)
        return str(series)
    state.original_weight = weight.data
    weight.data = folded
    return str(series)


def _tied_weights(model: nn.Module) -> set[int]:
    """Ids of Parameters the model holds under more than one name (tied embeddings)."""
    names = Counter(id(p) for _, p in model.named_parameters(remove_duplicate=False))
    return {key for key, count in names.items() if count > 1}


def _apply_activations(module, kind, series, state, reasons) -> str | None:
    reason = unsupported_reason(module, series, Side.A)
    if reason:
        reasons.append(reason)
        return None
    state.hook = module.register_forward_pre_hook(
        _activation_hook(series, kind, kind.groups(module))
    )
    return str(series)


def _apply_layer(fqn: str, module: nn.Module, plan: LayerPlan, tied: set[int]) -> LayerReport:
    kind = layer_kind(module)
    state = _LayerState()
    reasons: list[str] = []
    w = None
    if plan.weights:
        shared = id(module._parameters.get("weight")) in tied
        w = _apply_weights(fqn, module, kind, plan.weights, state, reasons, shared)
    a = (
        _apply_activations(module, kind, plan.activations, state, reasons)
        if plan.activations
        else None
    )
    state.report = LayerReport(fqn, kind.op, w, a, tuple(reasons))
    setattr(module, _STATE, state)
    return state.report


def effective_plan(plan: ModelPlan, reports: list[LayerReport]) -> ModelPlan:
    """What surgery actually ran: a side it left dense (and said why) is dense here too, so a
    cost estimate prices the model that was evaluated, not the one that was asked for."""
    ran = {r.fqn: LayerPlan(r.weights, r.activations) for r in reports}
    return ModelPlan({name: ran.get(name, LayerPlan()) for name in plan})


def tasd_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers apply_tasd_ changed (and remove_tasd_ would restore)."""
    return {name: mod for name, mod in model.named_modules() if hasattr(mod, _STATE)}


def apply_tasd_(model: nn.Module, plan: ModelPlan) -> list[LayerReport]:
    """Apply ``plan`` to ``model`` in place; returns one report per planned, non-dense layer.

    Layers are decomposed one at a time, so peak extra memory is one layer's weight (plus the
    kept originals, which make :func:`remove_tasd_` exact).
    """
    if not isinstance(plan, ModelPlan):
        raise TypeError(f"apply_tasd_ takes a ModelPlan, got {type(plan).__name__}")
    applied = tasd_layers(model)
    if applied:
        first = next(iter(applied))
        raise RuntimeError(
            f"TASD is already applied to {len(applied)} layer(s) of this model (e.g. {first!r}); "
            "call remove_tasd_(model) first"
        )
    plan.validate(model)
    reports, tied = [], _tied_weights(model)
    try:
        for fqn, layer_plan in plan.decomposed().items():
            reports.append(_apply_layer(fqn, model.get_submodule(fqn), layer_plan, tied))
    except Exception:
        remove_tasd_(model)  # all or nothing: never leave a half-decomposed model behind
        raise
    return reports


def remove_tasd_(model: nn.Module) -> int:
    """Undo :func:`apply_tasd_` exactly (original weight data back, hooks removed).

    Returns the number of layers restored; 0 when nothing was applied.
    """
    layers = tasd_layers(model)
    for module in reversed(list(layers.values())):  # a shared weight ends at its first original
        state: _LayerState = getattr(module, _STATE)
        if state.original_weight is not None:
            module.weight.data = state.original_weight
        if state.tied_weight is not None:
            module.weight = state.tied_weight  # tied again: the very Parameter it shared
        if state.hook is not None:
            state.hook.remove()
        delattr(module, _STATE)
    return len(layers)


def _weight_stats(original: torch.Tensor, folded: torch.Tensor) -> dict:
    o, f = original.double(), folded.double()
    total = float(o.square().sum())
    kept = float(f.square().sum())
    error = float((o - f).square().sum())
    numel = max(original.numel(), 1)
    return {
        "density": int(torch.count_nonzero(folded)) / numel,
        "kept_energy": 1.0 if total == 0 else kept / total,
        "relative_error": 0.0 if total == 0 else (error / total) ** 0.5,
    }


def tasd_layer_stats(model: nn.Module) -> list[dict]:
    """One flat row per decomposed layer: series, dense reasons and, for TASD-W, the weight's
    density, kept energy and relative error (computed on first request, then cached)."""
    rows = []
    for module in tasd_layers(model).values():
        state: _LayerState = getattr(module, _STATE)
        report = state.report
        row = {
            "fqn": report.fqn,
            "op": report.op,
            "weights": report.weights,
            "activations": report.activations,
            "dense_reason": "; ".join(report.reasons) or None,
        }
        original = state.original_weight
        if original is None and state.tied_weight is not None:
            original = state.tied_weight.detach()
        if original is not None:
            if state.stats is None:
                with torch.no_grad():
                    state.stats = _weight_stats(original, module.weight.detach())
            row.update(state.stats)
        rows.append(row)
    return rows
