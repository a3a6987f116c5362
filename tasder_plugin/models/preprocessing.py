"""What a model tells its data builder: timm's preprocessing config, its tokenizer or image
processor, its classes.

The data builders (``tasder_plugin.data``) stay model-agnostic; each model source's adapter says
what its models need (``ModelAdapter.preprocessing``). A tokenizer or HuggingFace image processor
comes from the same place as the model (hub id, ``save_pretrained`` directory, or a packaged
model), so it fails the same way offline: one :class:`ModelLoadError` saying how to supply a
local copy.
HuggingFace image classifiers get their own processor (its size, crop, resampling, mean and std:
ViT normalises with 0.5, not ImageNet's statistics), never timm's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from .adapters import ADAPTERS, HF_SUPPLY, ModelConfig, ModelLoadError, offline_error

__all__ = ["data_config", "load_image_processor", "load_tokenizer", "num_classes"]

# What tokenizer.save_pretrained writes, or what older tokenizers ship with alone.
_TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json", "vocab.txt", "vocab.json",
                    "spiece.model", "sentencepiece.bpe.model", "tokenizer.model")  # fmt: skip


def data_config(model_cfg: ModelConfig, model: nn.Module) -> dict:
    """The preprocessing facts the data builders need for ``model`` (may be empty):
    ``num_classes``, and what its adapter says (``data_config`` for timm transforms,
    ``tokenizer`` for text models, ``image_processor`` for HuggingFace image models), and for
    causal LMs ``next_token`` (True) and ``max_positions`` (the longest window it can read)."""
    out: dict = {}
    classes = num_classes(model_cfg, model)
    if classes is not None:
        out["num_classes"] = classes
    if model_cfg.task.predicts_tokens:
        out["next_token"] = True
        if (limit := max_positions(model)) is not None:
            out["max_positions"] = limit
    out.update(ADAPTERS.get(model_cfg.source).preprocessing(model_cfg, model))
    return out


def max_positions(model: nn.Module) -> int | None:
    """The longest token sequence a HuggingFace LM reads (its position table), if it says."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions"):
        if isinstance(getattr(config, name, None), int):
            return getattr(config, name)
    return None


def num_classes(model_cfg: ModelConfig, model: nn.Module) -> int | None:
    """The configured number of classes, else what the model says (timm ``num_classes``,
    HuggingFace ``config.num_labels``); None for models that do not classify."""
    if model_cfg.num_classes is not None:
        return int(model_cfg.num_classes)
    if not model_cfg.task.classifies:
        return None
    found = getattr(model, "num_classes", None)
    if found is None:
        found = getattr(getattr(model, "config", None), "num_labels", None)
    return None if found is None else int(found)


def load_tokenizer(source: str | Path, model_cfg: ModelConfig):
    """``AutoTokenizer`` from a local directory (never the network) or a hub id."""
    from transformers import AutoTokenizer

    # without its files transformers would build an empty-vocabulary tokenizer: every word unknown
    return _load_pretrained(AutoTokenizer, _TOKENIZER, source, model_cfg)


def load_image_processor(source: str | Path, model_cfg: ModelConfig):
    """``AutoImageProcessor`` from a local directory (never the network) or a hub id."""
    from transformers import AutoImageProcessor

    return _load_pretrained(AutoImageProcessor, _IMAGE_PROCESSOR, source, model_cfg)


@dataclass(frozen=True)
class _Preprocessor:
    """How one kind of HF preprocessor is named in errors and recognised in a directory."""

    noun: str  # "tokenizer"
    files: tuple[str, ...]  # what save_pretrained writes (any one will do)
    missing: str  # what the error says the directory lacks
    save: str  # how to put it there

    @property
    def a_noun(self) -> str:
        return ("an " if self.noun[0] in "aeiou" else "a ") + self.noun


_TOKENIZER = _Preprocessor(
    "tokenizer", _TOKENIZER_FILES, "tokenizer files",
    "save the tokenizer there too: tokenizer.save_pretrained(dir)",
)  # fmt: skip
_IMAGE_PROCESSOR = _Preprocessor(
    "image processor", ("preprocessor_config.json",), "preprocessor_config.json",
    "save the processor there too: image_processor.save_pretrained(dir)",
)  # fmt: skip


def _load_pretrained(auto, kind: _Preprocessor, source: str | Path, model_cfg: ModelConfig):
    """``auto.from_pretrained`` with the project's errors: a local directory must hold the
    files (never the network); a hub id fails offline like the model does."""
    local = isinstance(source, Path)
    if local and not any((source / name).is_file() for name in kind.files):
        raise ModelLoadError(
            f"cannot load {kind.a_noun} from {source}: it holds no {kind.missing} ({kind.save})"
        )
    try:
        return auto.from_pretrained(str(source), local_files_only=local)
    except (OSError, ValueError) as err:
        if local:
            first = str(err).strip().splitlines()[0]
            raise ModelLoadError(f"cannot load {kind.a_noun} from {source}: {first}") from None
        raise offline_error(f"{kind.noun} of", model_cfg, err, HF_SUPPLY) from None
