"""Module surgery: which layers are GEMMs, per-layer TASD plans, applying and removing TASD."""

from .layers import LayerKind, layer_kind, register_layer_kind, register_weight_as_is

__all__ = ["LayerKind", "layer_kind", "register_layer_kind", "register_weight_as_is"]
