"""Datasets and datamodules the harness evaluates on.

Each data kind registers itself where it is defined; importing the kind modules here makes every
kind available as soon as any part of the package is imported.
"""

from . import hf_datasets, hf_text_stream, loaders, token_stream  # noqa: F401  (kinds register)
from .common import (
    DataConfig,
    DataError,
    EvalData,
    build_data,
    data_kinds,
    image_transform,
    make_loader,
    parse_data,
    register_data,
)
from .digits import DIGITS_CLASSES, DIGITS_IMAGE_SIZE, digits_splits
from .mnist import mnist_splits

__all__ = [
    "DIGITS_CLASSES",
    "DIGITS_IMAGE_SIZE",
    "DataConfig",
    "DataError",
    "EvalData",
    "build_data",
    "data_kinds",
    "digits_splits",
    "image_transform",
    "make_loader",
    "mnist_splits",
    "parse_data",
    "register_data",
]
