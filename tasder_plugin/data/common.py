"""What every data kind shares: the kind registry, :class:`EvalData`, the loader and the error.

A small module of its own so that each kind module (:mod:`.loaders`, :mod:`.hf_datasets`)
imports it, and none imports another: ``data/__init__`` imports the kind modules, which is
where they register.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch.utils.data import DataLoader, Dataset

from ..config import check, from_plain
from ..errors import TasderUserError
from ..registry import Registry

__all__ = [
    "DATA_KINDS",
    "DataConfig",
    "DataError",
    "EvalData",
    "build_data",
    "data_kinds",
    "image_transform",
    "make_loader",
    "parse_data",
    "register_data",
]


class DataError(TasderUserError, RuntimeError):
    """Data could not be loaded; the message says what is missing and how to supply it."""


class Indexed(Dataset):
    """Adds each sample's index, so per-sample results can be matched across runs."""

    def __init__(self, base: Dataset):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        x, y = self.base[i][:2]
        return x, y, i


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """What every ``conf/data/*.yaml`` holds; each kind extends it with its own fields."""

    name: str
    kind: str
    batch_size: int = 64
    num_workers: int = 0

    def __post_init__(self) -> None:
        check(self.batch_size >= 1, "batch_size", f"must be an integer >= 1, got {self.batch_size}")
        check(self.num_workers >= 0, "num_workers", f"must be >= 0, got {self.num_workers}")


@dataclass
class EvalData:
    """The calibration split (what a search may look at) and the disjoint evaluation split."""

    name: str
    calib: DataLoader | None
    eval: DataLoader

    def example_batch(self, size: int):
        """The first ``size`` evaluation inputs (at most one loader batch)."""
        inputs = next(iter(self.eval))[0]
        if isinstance(inputs, dict):
            return {key: value[:size] for key, value in inputs.items()}
        return inputs[:size]


@dataclass(frozen=True)
class DataKind:
    """A registered data kind: its config dataclass and ``build(config, model_facts)``."""

    name: str
    config: type
    build: Callable[[DataConfig, dict], EvalData]


DATA_KINDS: Registry[DataKind] = Registry("data.kind")


def register_data(kind: str, config: type = DataConfig):
    """Decorator registering ``fn(config, model_facts) -> EvalData`` for ``data.kind=kind``;
    ``config``: the kind's :class:`DataConfig` subclass (its Hydra schema is derived from it)."""

    def decorate(fn):
        DATA_KINDS.add(kind, DataKind(kind, config, fn))
        return fn

    return decorate


def data_kinds() -> list[str]:
    """The registered data kinds (what ``data.kind`` may name)."""
    return sorted(DATA_KINDS.names())


def parse_data(node: dict, where: str = "data.") -> DataConfig:
    """The ``data`` node -> its kind's frozen config (unknown keys and bad values fail here)."""
    if not isinstance(node, dict) or "kind" not in node:
        raise DataError(f"{where}kind is missing: choose data=digits, data=imagenet, ...")
    return from_plain(DATA_KINDS.get(node["kind"]).config, node, where)


def build_data(config: DataConfig | dict, model_facts: dict) -> EvalData:
    """``model_facts``: the model's preprocessing facts (``models.preprocessing.data_config``)."""
    if isinstance(config, dict):
        config = parse_data(config)
    return DATA_KINDS.get(config.kind).build(config, model_facts)


def make_loader(dataset: Dataset, config: DataConfig, collate_fn=None) -> DataLoader:
    """Batches of ``(inputs, labels, indices)`` in dataset order."""
    return DataLoader(
        Indexed(dataset),
        batch_size=config.batch_size,
        shuffle=False,
        num_workers=config.num_workers,
        collate_fn=collate_fn,
    )


def image_transform(model_cfg: dict):
    """The model's own eval preprocessing of a PIL image: its HuggingFace image processor when
    it has one, else timm's transform for its data config (timm's defaults when it has none)."""
    if model_cfg.get("image_processor") is not None:
        return ImageProcessorTransform(model_cfg["image_processor"])
    import timm.data

    return timm.data.create_transform(**model_cfg.get("data_config", {}))


class ImageProcessorTransform:
    """A HuggingFace image processor as a per-image transform (a class: DataLoader workers
    pickle it). Returns the ``(C, H, W)`` pixel values the model was trained on."""

    def __init__(self, processor):
        self.processor = processor

    def __call__(self, image):
        return self.processor(images=image.convert("RGB"), return_tensors="pt")["pixel_values"][0]
