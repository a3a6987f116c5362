"""What a model tells its data builder: timm's preprocessing config, a tokenizer directory.

The data builders (``tasder_plugin.data.loaders``) stay model-agnostic; this is the one place
that knows which model source needs which preprocessing.
"""

from __future__ import annotations

from torch import nn

from .adapters import ModelConfig, packaged_model_path

__all__ = ["data_config"]


def data_config(model_cfg: ModelConfig, model: nn.Module) -> dict:
    """The preprocessing facts the data builders need for ``model`` (may be empty)."""
    if model_cfg.source == "packaged_hf":
        return {"tokenizer_dir": str(packaged_model_path(model_cfg))}
    if model_cfg.source != "timm":
        return {}
    import timm.data

    return {"data_config": timm.data.resolve_data_config({}, model=model)}
