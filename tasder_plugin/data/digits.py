"""scikit-learn's bundled handwritten digits (1,797 8x8 images): the offline default dataset.

The split is :func:`.splits.stratified_split`'s (train / calib / eval, 60 / 20 / 20%, disjoint).
Images are upsampled to 32x32, one channel, and scaled by the pixel range: (x / 16 - 0.5) / 0.5.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from .splits import stratified_split

DIGITS_CLASSES = 10
DIGITS_IMAGE_SIZE = 32


def _load_arrays() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1)  # (N, 1, 8, 8)
    labels = torch.tensor(digits.target, dtype=torch.int64)
    return images, labels


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """8x8 digits (0..16) -> normalised 32x32 single-channel images."""
    x = F.interpolate(images / 16.0, size=DIGITS_IMAGE_SIZE, mode="bilinear", align_corners=False)
    return (x - 0.5) / 0.5


def digits_splits() -> dict[str, TensorDataset]:
    """The fixed ``train`` / ``calib`` / ``eval`` splits as tensor datasets (deterministic)."""
    images, labels = _load_arrays()
    x = preprocess(images)
    return {
        name: TensorDataset(x[idx], labels[idx]) for name, idx in stratified_split(labels).items()
    }
