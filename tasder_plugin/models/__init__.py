"""Model adapters: the project's offline reference models (more adapters land with the harness)."""

from . import cifar_resnet  # noqa: F401  (registers cifar_resnet20..110 with timm)
from .reference import REFERENCE_MODELS, build_reference

__all__ = ["REFERENCE_MODELS", "build_reference"]
