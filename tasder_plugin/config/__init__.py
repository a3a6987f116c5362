"""Typed configuration: plain data (a YAML mapping, a composed Hydra node) -> frozen dataclasses.

One converter (:func:`from_plain`) serves every config group and the hardware loader, so a typo,
a wrong type, an unknown key or an out-of-range value reads the same everywhere: one line naming
the key, the valid keys or range, and the closest valid name. :func:`hydra_schema` derives the
OmegaConf schema Hydra checks at compose time from the same dataclass, so each field and each
default is declared once.
"""

from .coerce import FieldError, check, from_plain, replace_options, suggest
from .schema import hydra_schema

__all__ = ["FieldError", "check", "from_plain", "hydra_schema", "replace_options", "suggest"]
