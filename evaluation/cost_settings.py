"""The ``cost`` config node: which batch the hardware cost is for, checked once at the edge."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = ["CostSettings"]


@dataclass(frozen=True)
class CostSettings:
    """``batch_size``: samples per costed batch (1: the accelerator papers' single-inference
    setting), independent of the evaluation loader's batch. ``stats_samples``: samples the
    activation statistics (density, block histograms) are measured on."""

    batch_size: int = 1
    stats_samples: int = 32

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"cost.{f.name} must be an integer >= 1, got {value!r}")

    @classmethod
    def from_config(cls, node) -> CostSettings:
        """From the composed ``cost`` node (a mapping); unknown keys are errors."""
        data = dict(node or {})
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                raise ValueError(f"unknown key cost.{key} (valid: {', '.join(names)})")
        return cls(**data)
