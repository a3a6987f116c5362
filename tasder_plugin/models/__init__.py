"""Models: the adapter registry (``adapters``), the built-in sources, the offline references."""

from . import cifar_resnet, sources  # noqa: F401  (timm's cifar_resnet20..110; the sources)
from .reference import REFERENCE_MODELS, build_reference

__all__ = ["REFERENCE_MODELS", "build_reference"]
