"""scikit-learn's bundled handwritten digits (1,797 8x8 images): the offline default dataset.

The split is fixed (stratified, seed 0) and disjoint: ``train`` (60%) trains the reference
models, ``calib`` (20%) is what a TASDER search may look at, ``eval`` (20%) is only ever used to
report accuracy. Images are upsampled to 32x32, one channel, normalised to mean 0, std 1 over
the training split's pixel range convention (x / 16 - 0.5) / 0.5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

DIGITS_CLASSES = 10
DIGITS_IMAGE_SIZE = 32
_FRACTIONS = {"train": 0.6, "calib": 0.2, "eval": 0.2}
_SEED = 0


def _load_arrays() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1)  # (N, 1, 8, 8)
    labels = torch.tensor(digits.target, dtype=torch.int64)
    return images, labels


def _stratified_split(labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per class, shuffle with a fixed seed and cut by the split fractions."""
    gen = torch.Generator().manual_seed(_SEED)
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in _FRACTIONS}
    for cls in range(DIGITS_CLASSES):
        idx = (labels == cls).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_train = round(len(idx) * _FRACTIONS["train"])
        n_calib = round(len(idx) * _FRACTIONS["calib"])
        parts["train"].append(idx[:n_train])
        parts["calib"].append(idx[n_train : n_train + n_calib])
        parts["eval"].append(idx[n_train + n_calib :])
    return {name: torch.cat(chunks).sort().values for name, chunks in parts.items()}


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """8x8 digits (0..16) -> normalised 32x32 single-channel images."""
    x = F.interpolate(images / 16.0, size=DIGITS_IMAGE_SIZE, mode="bilinear", align_corners=False)
    return (x - 0.5) / 0.5


def digits_splits() -> dict[str, TensorDataset]:
    """The fixed ``train`` / ``calib`` / ``eval`` splits as tensor datasets (deterministic)."""
    images, labels = _load_arrays()
    x = preprocess(images)
    return {
        name: TensorDataset(x[idx], labels[idx]) for name, idx in _stratified_split(labels).items()
    }
