"""Model adapters: the project's offline reference models (more adapters land with the harness)."""

from .reference import REFERENCE_MODELS, build_reference

__all__ = ["REFERENCE_MODELS", "build_reference"]
