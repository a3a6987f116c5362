"""Datasets and datamodules the harness evaluates on."""

from .digits import DIGITS_CLASSES, DIGITS_IMAGE_SIZE, digits_splits

__all__ = ["DIGITS_CLASSES", "DIGITS_IMAGE_SIZE", "digits_splits"]
