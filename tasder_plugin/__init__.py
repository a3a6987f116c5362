"""TASDER: run dense and unstructured-sparse DNNs on structured-sparse hardware, no fine-tuning.

The public API is re-exported here (see shared/DESIGN.md); subpackages hold the implementations.
"""

from .hardware import estimate_cost, load_hardware
from .nn import LayerPlan, ModelPlan, apply_tasd_, remove_tasd_, tasd_layer_stats
from .profile import GemmRecord, ModelProfile, profile_model
from .search import run_search, search_plan
from .tasd import (
    NMPattern,
    TASDSeries,
    TASDStats,
    approximate,
    block_nnz_histogram,
    decompose,
    nm_mask,
    tasd_stats,
)

__version__ = "0.1.0"

__all__ = [
    "estimate_cost",
    "load_hardware",
    "GemmRecord",
    "ModelProfile",
    "profile_model",
    "run_search",
    "search_plan",
    "LayerPlan",
    "ModelPlan",
    "apply_tasd_",
    "remove_tasd_",
    "tasd_layer_stats",
    "NMPattern",
    "TASDSeries",
    "TASDStats",
    "approximate",
    "block_nnz_histogram",
    "decompose",
    "nm_mask",
    "tasd_stats",
]
