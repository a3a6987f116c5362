"""Measure a plan on calibration data: divergence from dense, and the quality drop per part.

Every measurement is the real thing: the plan is applied with :func:`apply_tasd_`, the model runs
forward on calibration samples, and the plan is removed again. Results are cached per plan, so a
strategy may ask twice for free; ``forwards`` counts the measurements actually run.
"""

from __future__ import annotations

import torch
from torch import nn

from ..nn import LayerPlan, ModelPlan, apply_tasd_, remove_tasd_
from .calibration import Calibration
from .scoring import Scorer

__all__ = ["PlanEvaluator", "Selection"]

Selection = dict[str, LayerPlan]  # layer fqn -> chosen candidate (absent: dense)


def to_plan(model_layers: list[str], selection: Selection) -> ModelPlan:
    """A ``ModelPlan`` over all ``model_layers`` with the selection's non-dense choices."""
    return ModelPlan({name: selection.get(name, LayerPlan()) for name in model_layers})


def _key(selection: Selection) -> tuple:
    return tuple(sorted((k, c.label()) for k, c in selection.items() if not c.is_dense))


class PlanEvaluator:
    """Runs ``model`` under candidate selections on ``calib`` and compares with dense."""

    def __init__(self, model: nn.Module, layers: list[str], calib: Calibration, scorer: Scorer):
        self.model, self.layers, self.calib, self.scorer = model, layers, calib, scorer
        self.forwards = 0
        everything = torch.arange(calib.size)
        self.dense = self._outputs(everything)
        self._quality: dict[tuple, torch.Tensor] = {}
        self.dense_quality = self.scorer.quality(self.dense, self.dense, calib.labels)

    @torch.no_grad()
    def _outputs(self, index: torch.Tensor) -> torch.Tensor:
        outs = [self.scorer.outputs(self.model, x) for _, x in self.calib.chunks(index)]
        return torch.cat(outs)

    def _run(self, selection: Selection, index: torch.Tensor) -> torch.Tensor:
        apply_tasd_(self.model, to_plan(self.layers, selection))
        try:
            self.forwards += 1
            return self._outputs(index)
        finally:
            remove_tasd_(self.model)

    def divergence(self, selection: Selection, index: torch.Tensor) -> float:
        """Mean divergence from the dense outputs over the samples ``index``."""
        out = self._run(selection, index)
        return float(self.scorer.divergence(self.dense[index], out).double().mean())

    def quality(self, selection: Selection) -> torch.Tensor:
        """Per-sample quality of the selection over all calibration samples (cached)."""
        key = _key(selection)
        if key not in self._quality:
            everything = torch.arange(self.calib.size)
            out = self.dense if not key else self._run(selection, everything)
            self._quality[key] = self.scorer.quality(self.dense, out, self.calib.labels)
        return self._quality[key]

    def drop(self, selection: Selection, part: str, z: float = 0.0) -> float:
        """Dense quality minus the selection's quality, averaged over ``part`` (search/holdout),
        plus ``z`` standard errors of that mean (an upper confidence bound for ``z`` > 0)."""
        index = getattr(self.calib, part)
        if len(index) == 0:
            return 0.0
        diff = self.dense_quality[index] - self.quality(selection)[index]
        bound = float(diff.mean())
        if z > 0 and len(index) > 1:
            bound += z * float(diff.std()) / len(index) ** 0.5
        return bound

    def dense_metric(self, part: str) -> float:
        index = getattr(self.calib, part)
        return float(self.dense_quality[index].mean()) if len(index) else float("nan")
