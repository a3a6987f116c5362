"""TASDCallback: TASD and hardware cost for ANY Lightning Trainer, with no change to the module.

At validation/test start the callback profiles one batch, applies the plan to the module's model
in place, and costs it on the hardware (and dense) through the same path as the harness
(:func:`~tasder_plugin.pipeline.apply_and_cost_`); at the end of the epoch it logs the same
``hw/*``, ``dense_hw/*`` and ``tasd/*`` metrics next to the module's own and restores the dense
weights exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import lightning.pytorch as pl
import torch
from torch import nn

from .hardware import HardwareSpec, load_hardware
from .nn import ModelPlan, remove_tasd_
from .pipeline import apply_and_cost_
from .profile import profile_model

__all__ = ["TASDCallback"]

PlanLike = ModelPlan | Callable[[nn.Module], ModelPlan]


def _first_input(batch):
    """The model input of a batch: the batch itself, its first element, or its dict."""
    if isinstance(batch, torch.Tensor | dict):
        return batch
    if isinstance(batch, list | tuple) and batch:
        return batch[0]
    raise ValueError(f"TASDCallback: cannot find the model input in a {type(batch).__name__}")


class TASDCallback(pl.Callback):
    """Apply ``plan`` during validation and test, and log what it would cost on ``hw``.

    ``plan``: a :class:`ModelPlan` for the target model, or ``fn(model) -> ModelPlan``.
    ``attr``: the LightningModule attribute holding the model (None: the module itself).
    ``example_input``: what to profile; default: the first batch of the evaluation dataloader.
    ``batch_size``: the samples the cost is for (the first of the example, whose statistics
    still come from all of it); None: the whole example batch.
    """

    def __init__(
        self,
        plan: PlanLike,
        hw: HardwareSpec | str = "2of4",
        attr: str | None = None,
        example_input=None,
        strict: bool = False,
        batch_size: int | None = 1,
    ) -> None:
        self.plan = plan
        self.batch_size = batch_size
        self.hw = load_hardware(hw)
        self.attr = attr
        self.example_input = example_input
        self.strict = strict
        self.metrics: dict[str, float] = {}

    def _target(self, pl_module: pl.LightningModule) -> nn.Module:
        return getattr(pl_module, self.attr) if self.attr else pl_module

    def _example(self, loaders):
        if self.example_input is not None:
            return self.example_input
        loader = loaders[0] if isinstance(loaders, list | tuple) else loaders
        return _first_input(next(iter(loader)))

    def _start(self, pl_module: pl.LightningModule, loaders) -> None:
        model = self._target(pl_module)
        plan = self.plan(model) if callable(self.plan) else self.plan
        example = self._example(loaders)
        if isinstance(example, torch.Tensor):
            example = example.to(pl_module.device)
        profile = profile_model(model, example, batch_size=self.batch_size)
        applied = apply_and_cost_(model, plan, self.hw, profile, strict=self.strict)
        self.metrics = {name: float(value) for name, value in applied.metrics().items()}

    def _log(self, pl_module: pl.LightningModule) -> None:
        for name, value in self.metrics.items():
            pl_module.log(name, value, on_epoch=True)

    def on_validation_start(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self._start(pl_module, trainer.val_dataloaders)

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self._log(pl_module)

    def on_validation_end(self, trainer, pl_module):
        remove_tasd_(self._target(pl_module))

    def on_test_start(self, trainer, pl_module):
        self._start(pl_module, trainer.test_dataloaders)

    def on_test_epoch_end(self, trainer, pl_module):
        self._log(pl_module)

    def on_test_end(self, trainer, pl_module):
        remove_tasd_(self._target(pl_module))
