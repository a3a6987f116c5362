"""TASD math: N:M patterns, greedy structured decomposition and its statistics (torch only)."""

from .decompose import approximate, as_series, decompose, nm_mask
from .kernel import kernel_available
from .layer_plan import LayerPlan
from .outputs import empty_output_cache, output_cache_info
from .patterns import NMPattern, Side, TASDSeries
from .stats import TASDStats, block_nnz_histogram, tasd_stats

__all__ = [
    "LayerPlan",
    "NMPattern",
    "Side",
    "TASDSeries",
    "TASDStats",
    "approximate",
    "as_series",
    "block_nnz_histogram",
    "decompose",
    "empty_output_cache",
    "kernel_available",
    "nm_mask",
    "output_cache_info",
    "tasd_stats",
]
