"""The project's own offline reference models, trained on bundled digits datasets.

``reference_resnet`` is timm ``test_resnet`` and ``reference_vit`` timm ``test_vit`` (patch 4 at
32x32), trained on scikit-learn's digits; ``reference_resnet20`` is the CIFAR-style ResNet-20
(16/32/64 channels, 19 convs + fc: a real network's depth and widths) trained on MNIST-5k. All
take one input channel and give ten classes, are trained on their dataset's ``train`` split and
ship as safetensors with a JSON card recording the command, seed, versions and accuracy.
``python -m tasder_plugin.models.train_reference`` retrains them deterministically (one thread:
the same bytes on one machine; another CPU's kernels may give other bytes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import timm
import torch
from safetensors.torch import load_file
from torch.utils.data import TensorDataset

from ..data.bundled import BUNDLED_DATASETS
from ..data.digits import DIGITS_CLASSES, DIGITS_IMAGE_SIZE
from ..errors import ConfigError, MissingFileError
from . import cifar_resnet  # noqa: F401  (registers timm's cifar_resnet20)

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


@dataclass(frozen=True)
class ReferenceSpec:
    """A timm architecture, the keyword arguments that adapt it to its dataset, and how it is
    trained."""

    architecture: str
    kwargs: dict = field(default_factory=dict)
    dataset: str = "digits"  # a key of BUNDLED_DATASETS
    min_accuracy: float = 0.0  # dense top-1 on the eval split the committed checkpoint must reach
    train_epochs: int = 30  # what the training command uses by default
    prune_from: str | None = None  # sparse variants: the dense reference model they start from
    sparsity: float = 0.0  # fraction of GEMM weights set to zero (global magnitude pruning)

    def create(self) -> torch.nn.Module:
        return timm.create_model(
            self.architecture,
            pretrained=False,
            num_classes=DIGITS_CLASSES,
            in_chans=1,
            **self.kwargs,
        )

    def splits(self) -> dict[str, TensorDataset]:
        """The model's dataset: its fixed ``train`` / ``calib`` / ``eval`` splits."""
        return BUNDLED_DATASETS[self.dataset].splits()


REFERENCE_MODELS: dict[str, ReferenceSpec] = {
    "reference_resnet": ReferenceSpec("test_resnet", min_accuracy=0.98, train_epochs=30),
    "reference_vit": ReferenceSpec(
        "test_vit",
        {"img_size": DIGITS_IMAGE_SIZE, "patch_size": 4},
        min_accuracy=0.96,
        train_epochs=80,
    ),
    "reference_resnet20": ReferenceSpec(
        "cifar_resnet20", dataset="mnist", min_accuracy=0.97, train_epochs=30
    ),
}


def _sparse(base: str, sparsity: float, min_accuracy: float) -> ReferenceSpec:
    """An unstructured-sparse variant of ``base``: global magnitude pruning of every conv and
    linear weight with a short fine-tuning (masks fixed) on the base model's train split."""
    dense = REFERENCE_MODELS[base]
    return ReferenceSpec(
        dense.architecture, dense.kwargs, dense.dataset, min_accuracy, 12, base, sparsity
    )


REFERENCE_MODELS.update(
    {
        "reference_resnet_sp80": _sparse("reference_resnet", 0.80, 0.97),
        "reference_resnet_sp95": _sparse("reference_resnet", 0.95, 0.95),
        "reference_vit_sp80": _sparse("reference_vit", 0.80, 0.95),
        "reference_vit_sp95": _sparse("reference_vit", 0.95, 0.90),
        "reference_resnet20_sp90": _sparse("reference_resnet20", 0.90, 0.96),
    }
)


def reference_spec(name: str) -> ReferenceSpec:
    if name not in REFERENCE_MODELS:
        raise ConfigError(f"unknown reference model {name!r}; known: {sorted(REFERENCE_MODELS)}")
    return REFERENCE_MODELS[name]


def checkpoint_path(name: str) -> Path:
    return CHECKPOINT_DIR / f"{name}.safetensors"


def model_card(name: str) -> dict:
    """The JSON card written next to a checkpoint by the training command."""
    path = checkpoint_path(name).with_suffix(".json")
    if not path.is_file():
        raise MissingFileError(f"no model card for {name!r} at {path}")
    return json.loads(path.read_text())


def build_reference(
    name: str, pretrained: bool = True, checkpoint: Path | None = None
) -> torch.nn.Module:
    """A reference model in eval mode; ``pretrained`` loads ``checkpoint`` (default: the
    committed checkpoint)."""
    model = reference_spec(name).create()
    if pretrained:
        path = checkpoint or checkpoint_path(name)
        if not path.is_file():
            raise MissingFileError(
                f"reference checkpoint {path} is missing; recreate it with "
                f"`python -m tasder_plugin.models.train_reference --model {name} "
                f"--out {path.parent}`"
            )
        model.load_state_dict(load_file(path))
    return model.eval()
