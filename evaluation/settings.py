"""Typed settings of one harness run: the top-level keys of ``conf/config.yaml`` (``cost`` is the
library's ``CostSettings``) and ``trainer``. Each field, default and range is declared here once;
the Hydra schema of those nodes is derived from these classes (:mod:`.schemas`), so typos fail
at compose time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tasder_plugin.config import check
from tasder_plugin.errors import ConfigError
from tasder_plugin.profile.settings import CostSettings

__all__ = ["MODES", "RunSchema", "TrainerSettings"]


# eval: accuracy and cost; cost: cost only, on random inputs of model.input_size (no data)
MODES = ("eval", "cost")


_ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")


@dataclass(frozen=True)
class TrainerSettings:
    """The Lightning ``Trainer`` arguments an evaluation uses (``conf/trainer/*.yaml``)."""

    accelerator: str = "cpu"
    devices: Any = 1  # a count, -1 (all), "auto", or a list of device ids
    strategy: str = "auto"
    precision: Any = "32-true"
    enable_progress_bar: bool = True
    enable_model_summary: bool = False
    num_nodes: int = 1
    limit_val_batches: Any = None  # evaluate on part of the data (an int count or a fraction)

    def __post_init__(self) -> None:
        check(self.accelerator in _ACCELERATORS, "accelerator",
              f"must be one of {', '.join(_ACCELERATORS)}, got {self.accelerator!r}")  # fmt: skip

    def check_available(self) -> None:
        """A GPU trainer on a machine without one fails here, in one line, before any work."""
        if self.accelerator in ("gpu", "cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError(
                    f"trainer.accelerator={self.accelerator} needs a CUDA GPU and none is "
                    "visible on this machine: use trainer=cpu"
                )

    def as_kwargs(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RunSchema:
    """The top level of ``conf/config.yaml``. The groups (model, data, hw, tasd, trainer,
    logger) have schemas of their own; paths are interpolations resolved by Hydra."""

    mode: str = "eval"
    seed: int = 0
    strict: bool = False  # true: a plan the hardware cannot run exactly is an error
    cost: CostSettings = field(default_factory=CostSettings)
    debug: bool = False  # true: full tracebacks instead of one-line errors
    output_dir: str = "???"
    cache_dir: str = "???"
    leaderboard_db: str | None = None  # null: do not record
    hw_name: str = "???"
    model: Any = "???"
    data: Any = "???"
    hw: Any = "???"
    tasd: Any = "???"
    trainer: Any = "???"
    logger: Any = None

    def __post_init__(self) -> None:
        check(self.mode in MODES, "mode", f"must be one of {', '.join(MODES)}, got {self.mode!r}")
