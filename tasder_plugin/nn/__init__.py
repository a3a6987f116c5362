"""Module surgery: which layers are GEMMs, per-layer TASD plans, applying and removing TASD."""

from .layers import LayerKind, layer_kind, register_layer_kind, register_weight_as_is
from .plan import LayerPlan, ModelPlan, gemm_layer_names, output_embedding_name, select_layers
from .surgery import (
    LayerReport,
    apply_tasd_,
    approximate_input,
    effective_plan,
    remove_tasd_,
    tasd_layer_stats,
    tasd_layers,
    unsupported_reason,
)

__all__ = [
    "LayerKind",
    "LayerPlan",
    "LayerReport",
    "ModelPlan",
    "apply_tasd_",
    "approximate_input",
    "effective_plan",
    "gemm_layer_names",
    "layer_kind",
    "output_embedding_name",
    "register_layer_kind",
    "register_weight_as_is",
    "remove_tasd_",
    "select_layers",
    "tasd_layer_stats",
    "tasd_layers",
    "unsupported_reason",
]
