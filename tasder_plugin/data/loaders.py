"""Evaluation data by kind: one registered builder per kind returns the calibration and
evaluation loaders. Every batch is ``(inputs, labels, indices)`` in a fixed order, so that
predictions can be compared sample by sample with the dense model's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch.utils.data import DataLoader, Dataset, Subset

from .digits import digits_splits

__all__ = [
    "DataError",
    "EvalData",
    "build_data",
    "data_kinds",
    "image_transform",
    "make_loader",
    "register_data",
]


class DataError(RuntimeError):
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


_BUILDERS: dict[str, Callable[[dict, dict], EvalData]] = {}


def register_data(kind: str):
    def decorate(fn):
        _BUILDERS[kind] = fn
        return fn

    return decorate


def data_kinds() -> list[str]:
    """The registered data kinds (what ``data.kind`` may name)."""
    return sorted(_BUILDERS)


def build_data(data_cfg: dict, model_cfg: dict) -> EvalData:
    """``model_cfg``: the model's preprocessing facts (``models.preprocessing.data_config``)."""
    kind = data_cfg.get("kind")
    if kind not in _BUILDERS:
        raise DataError(f"unknown data kind {kind!r}; known: {data_kinds()}")
    return _BUILDERS[kind](data_cfg, model_cfg)


def make_loader(dataset: Dataset, cfg: dict, collate_fn=None) -> DataLoader:
    """Batches of ``(inputs, labels, indices)`` in dataset order."""
    return DataLoader(
        Indexed(dataset),
        batch_size=int(cfg.get("batch_size", 64)),
        shuffle=False,
        num_workers=int(cfg.get("num_workers", 0) or 0),
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


@register_data("digits")
def _digits(cfg: dict, model_cfg: dict) -> EvalData:
    splits = digits_splits()
    return EvalData("digits", make_loader(splits["calib"], cfg), make_loader(splits["eval"], cfg))


@register_data("imagefolder")
def _imagefolder(cfg: dict, model_cfg: dict) -> EvalData:
    root = cfg.get("root")
    if not root or not Path(root).is_dir():
        raise DataError(
            f"{cfg.get('name', 'imagefolder')} images not found at {root!r}: point "
            "data.root=... at a folder with one sub-folder of images per class (e.g. ImageNet val)"
        )
    from torchvision.datasets import ImageFolder

    dataset = ImageFolder(root, transform=image_transform(model_cfg))
    if cfg.get("limit"):
        dataset = Subset(dataset, range(min(int(cfg["limit"]), len(dataset))))
    return EvalData(cfg.get("name", "imagefolder"), None, make_loader(dataset, cfg))


class _Sentences(Dataset):
    """Tokenised sentences as ``(inputs dict, index, index)``; the label slot is unused."""

    def __init__(self, encoded: dict):
        self.encoded = encoded

    def __len__(self) -> int:
        return len(self.encoded["input_ids"])

    def __getitem__(self, i: int):
        return {key: value[i] for key, value in self.encoded.items()}, i


@register_data("sentences")
def _sentences(cfg: dict, model_cfg: dict) -> EvalData:
    path = Path(cfg.get("path") or Path(__file__).with_name("text") / "sentences.txt")
    if not path.is_file():
        raise DataError(f"sentences file not found: {path} (data.path=/path/to/file.txt)")
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise DataError(f"sentences file {path} has no sentences")
    tokenizer = model_cfg.get("tokenizer")
    if tokenizer is None:
        raise DataError("data=sentences needs a text model with a tokenizer (e.g. model=minilm)")
    max_length = int(cfg.get("max_length", 64))
    encoded = tokenizer(lines, padding="max_length", truncation=True, max_length=max_length,
                        return_tensors="pt")  # fmt: skip
    loader = DataLoader(
        _Sentences(dict(encoded)), batch_size=int(cfg.get("batch_size", 16)), shuffle=False
    )
    return EvalData("sentences", None, loader)


from . import hf_datasets  # noqa: E402, F401  (registers the HuggingFace datasets kinds)
