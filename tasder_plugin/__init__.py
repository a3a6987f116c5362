"""TASDER: run dense and unstructured-sparse DNNs on structured-sparse hardware, no fine-tuning.

The public API is re-exported here (see shared/DESIGN.md); subpackages hold the implementations.
The names are imported on first use (PEP 562), so that importing a light module of the package
(:mod:`.conf_location`, which Hydra's plugin scan loads in every Hydra app) does not import torch;
``_SOURCES`` says which subpackage defines each name (the one list of the public API).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SOURCES = {
    "hardware": ("estimate_cost", "load_hardware"),
    "profile": ("GemmRecord", "ModelProfile", "profile_model"),
    "search": ("run_search", "search_plan"),
    "nn": ("LayerPlan", "ModelPlan", "apply_tasd_", "remove_tasd_", "tasd_layer_stats"),
    "tasd": (
        "NMPattern",
        "TASDSeries",
        "TASDStats",
        "approximate",
        "block_nnz_histogram",
        "decompose",
        "nm_mask",
        "tasd_stats",
    ),
}
_SOURCE_OF = {name: package for package, names in _SOURCES.items() for name in names}

__all__ = list(_SOURCE_OF)  # the public API, in the order of the table above


def __getattr__(name: str):
    """A public name (or one of its subpackages, as ``import tasder_plugin`` always gave them),
    imported on first access and then cached in the module."""
    if name in _SOURCE_OF:
        value = getattr(importlib.import_module(f".{_SOURCE_OF[name]}", __name__), name)
    elif name in _SOURCES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
