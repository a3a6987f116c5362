"""Which modules are GEMM layers, and where their reduction dimension K lies.

One registry maps a layer class to a :class:`LayerKind` describing how the layer reads its weight
and input along K (see shared/DESIGN.md, "Conventions"). Subclasses are found through the MRO.
A subclass that overrides ``forward`` may transform the weight before using it (timm
``StdConv2d`` standardises it), so it is only eligible for TASD-W if registered as using its
weight as stored (:func:`register_weight_as_is`); otherwise the layer stays dense with the reason.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "LayerKind",
    "layer_kind",
    "register_layer_kind",
    "register_weight_as_is",
    "weight_transform_reason",
]


@dataclass(frozen=True)
class LayerKind:
    """How one GEMM layer type lays out K.

    ``weight_dim``: the weight dimension K runs along (channels of one group for convs).
    ``input_dim``: the input dimension holding K (channels; ``-1`` for features-last layers).
    ``groups``: the layer's group count (convs); blocks never cross a group.
    ``op``: short name used in profiles and reports.
    """

    op: str
    weight_dim: int
    input_dim: int
    groups: Callable[[nn.Module], int] = lambda module: 1

    def channels_per_group(self, module: nn.Module) -> int:
        weight = module.weight
        return weight.shape[self.weight_dim]


_KINDS: dict[type, LayerKind] = {}
_WEIGHT_AS_IS: set[type] = set()
# The forward of these base classes uses ``self.weight`` exactly as stored.
_BASE_FORWARDS: dict[type, tuple[str, ...]] = {}


def register_layer_kind(cls: type, kind: LayerKind, *methods: str) -> None:
    """Register a GEMM layer class. ``methods`` are the methods whose override by a subclass
    may change how the weight is used (``forward`` and helpers like ``_conv_forward``)."""
    _KINDS[cls] = kind
    _WEIGHT_AS_IS.add(cls)
    _BASE_FORWARDS[cls] = ("forward", *methods)


def register_weight_as_is(cls: type) -> type:
    """Declare that a subclass of a registered layer uses its weight as stored (decorator)."""
    _WEIGHT_AS_IS.add(cls)
    return cls


register_layer_kind(nn.Linear, LayerKind("linear", weight_dim=1, input_dim=-1))
register_layer_kind(
    nn.Conv2d,
    LayerKind("conv2d", weight_dim=1, input_dim=1, groups=lambda module: module.groups),
    "_conv_forward",
)


def _register_optional_kinds() -> None:
    """Layers of optional libraries, registered once they are imported (no import cost here)."""
    if "transformers" in sys.modules:
        try:
            from transformers.pytorch_utils import Conv1D
        except ImportError:  # pragma: no cover - very old transformers
            Conv1D = None
        if Conv1D is not None and Conv1D not in _KINDS:
            # GPT-2 style: weight stored as (in, out), y = x @ W; K runs along weight dim 0.
            register_layer_kind(Conv1D, LayerKind("conv1d", weight_dim=0, input_dim=-1))
    if "timm" in sys.modules:
        try:
            from timm.layers import Conv2dSame, Linear
        except ImportError:  # pragma: no cover
            return
        # Conv2dSame pads the input, timm Linear casts the weight's dtype: both use it as stored.
        _WEIGHT_AS_IS.update({Conv2dSame, Linear})


def _registered_base(module: nn.Module) -> type | None:
    _register_optional_kinds()
    for cls in type(module).__mro__:
        if cls in _KINDS:
            return cls
    return None


def layer_kind(module: nn.Module) -> LayerKind | None:
    """The :class:`LayerKind` of a GEMM layer, or None for any other module."""
    base = _registered_base(module)
    return None if base is None else _KINDS[base]


def weight_transform_reason(module: nn.Module) -> str | None:
    """Why the forward may not use ``module.weight`` as stored, or None when it does.

    TASD-W replaces the stored weight; if the forward transforms it first (standardisation,
    weight norm, a parametrization) the decomposition would not be of the weight actually used.
    """
    name = type(module).__name__
    if torch.nn.utils.parametrize.is_parametrized(module, "weight"):
        return f"{name}.weight is parametrized; TASD-W would not see the weight the forward uses"
    if hasattr(module, "weight_g") and hasattr(module, "weight_v"):
        return f"{name} uses weight norm; TASD-W would not see the weight the forward uses"
    base = _registered_base(module)
    if base is None:
        return f"{name} is not a supported GEMM layer"
    for cls in type(module).__mro__:
        if cls is base:
            return None
        if cls in _WEIGHT_AS_IS:
            return None
        overridden = [m for m in _BASE_FORWARDS[base] if m in vars(cls)]
        if overridden:
            return (
                f"{cls.__name__}.{overridden[0]} overrides {base.__name__} and may transform the "
                "weight (e.g. weight standardisation); left dense. If it uses the weight as "
                "stored, declare it with tasder_plugin.nn.register_weight_as_is"
            )
    return None
