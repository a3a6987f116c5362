"""Measure a plan on calibration data: divergence from dense, and the quality drop per part.

Every measurement is the real thing: the plan is applied with :func:`apply_tasd_`, the model runs
forward on calibration samples, and the plan is removed again. Results are cached per plan, so a
strategy may ask twice for free; ``forwards`` counts the forward passes over calibration samples
actually run (the dense reference outputs are the first), ``clock`` times them by phase.
"""

from __future__ import annotations

import torch
from torch import nn

from ..nn import LayerPlan, ModelPlan, apply_tasd_, remove_tasd_
from .calibration import Calibration
from .phases import PhaseClock
from .prefix_replay import PrefixReplay, Recording
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
        self.clock = PhaseClock(lambda: self.forwards)
        self.replay = PrefixReplay(model)
        self._dense_recording: Recording | None = None  # on the sensitivity samples
        with self.clock("dense outputs"):
            self.forwards += 1
            self.dense = self._by_part()
        self._quality: dict[tuple, torch.Tensor] = {}
        self.dense_quality = self.scorer.quality(self.dense, self.dense, calib.labels)

    @torch.no_grad()
    def _by_part(self) -> torch.Tensor:
        """Dense outputs of every sample, run in the batches a plan's check runs them in (each
        part's own chunks): batch composition cannot make a plan differ from dense."""
        parts = [index for index in (self.calib.search, self.calib.holdout) if len(index)]
        outs = [self._outputs(index) for index in parts]
        dense = torch.empty((self.calib.size, *outs[0].shape[1:]), dtype=outs[0].dtype)
        for index, out in zip(parts, outs):
            dense[index] = out
        return dense

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

    @torch.no_grad()
    def divergence(self, selection: Selection, index: torch.Tensor) -> float:
        """Mean divergence from the dense outputs over the samples ``index``; the blocks before
        the changed layers replay their dense outputs (:mod:`.prefix_replay`: exact)."""
        key = tuple(index.tolist())
        if self._dense_recording is None or self._dense_recording.key != key:
            self._dense_recording = Recording(key)
            with self.replay.run(None, [], self._dense_recording):
                self.forwards += 1
                self._outputs(index)
        changed = [self.model.get_submodule(k) for k, c in selection.items() if not c.is_dense]
        with self.replay.run(self._dense_recording, changed):
            out = self._run(selection, index)
        return float(self.scorer.divergence(self.dense[index], out).double().mean())

    @torch.no_grad()
    def _measure(self, selection: Selection, index: torch.Tensor, hopeless=None):
        """Per-sample quality of the selection and which samples are known, measuring those of
        ``index`` not yet known, chunk by chunk, until ``hopeless(quality, known)``."""
        key = _key(selection)
        if not key:
            return self.dense_quality, torch.ones_like(self.dense_quality, dtype=torch.bool)
        if key not in self._quality:
            unknown = torch.zeros_like(self.dense_quality, dtype=torch.bool)
            self._quality[key] = (torch.zeros_like(self.dense_quality), unknown)
        quality, known = self._quality[key]
        todo = index[~known[index]]
        if len(todo) == 0 or (hopeless is not None and hopeless(quality, known)):
            return quality, known
        apply_tasd_(self.model, to_plan(self.layers, selection))
        try:
            self.forwards += 1
            for part, x in self.calib.chunks(todo):
                labels = None if self.calib.labels is None else self.calib.labels[part]
                out = self.scorer.outputs(self.model, x)
                quality[part] = self.scorer.quality(self.dense[part], out, labels).double()
                known[part] = True
                if hopeless is not None and hopeless(quality, known):
                    break
        finally:
            remove_tasd_(self.model)
        return quality, known

    def quality(self, selection: Selection) -> torch.Tensor:
        """Per-sample quality of the selection over all calibration samples (cached)."""
        for part in (self.calib.search, self.calib.holdout):  # measured as the dense run was
            quality, _ = self._measure(selection, part)
        return quality

    def check(self, selection: Selection, part: str, limit: float, z: float) -> tuple[bool, float]:
        """Whether the drop on ``part`` plus ``z`` (>= 0) standard errors is at most ``limit``,
        and that bound. Stops measuring once the mean alone must exceed ``limit`` whatever the
        remaining samples give (each at best ``scorer.max_quality``): the same answer, sooner;
        the bound returned is then that lower bound of the mean."""
        index = getattr(self.calib, part)
        if len(index) == 0:
            return 0.0 <= limit, 0.0
        best = self.dense_quality[index] - self.scorer.max_quality  # lowest per-sample drop

        def lowest_mean(quality: torch.Tensor, known: torch.Tensor) -> float:
            done = known[index]
            diff = self.dense_quality[index] - quality[index]
            return float(diff[done].sum() + best[~done].sum()) / len(index)

        quality, known = self._measure(selection, index, lambda q, k: lowest_mean(q, k) > limit)
        if not known[index].all():
            return False, lowest_mean(quality, known)
        drop = self.drop(selection, part, z)
        return drop <= limit, drop

    def drop_and_error(self, selection: Selection, part: str) -> tuple[float, float]:
        """Dense quality minus the selection's quality, averaged over ``part`` (search/holdout),
        and the standard error of that mean (paired per sample; 0 with fewer than 2 samples)."""
        index = getattr(self.calib, part)
        if len(index) == 0:
            return 0.0, 0.0
        diff = self.dense_quality[index] - self._measure(selection, index)[0][index]
        error = float(diff.std()) / len(index) ** 0.5 if len(index) > 1 else 0.0
        return float(diff.mean()), error

    def drop(self, selection: Selection, part: str, z: float = 0.0) -> float:
        """The mean drop on ``part`` plus ``z`` standard errors (an upper confidence bound)."""
        mean, error = self.drop_and_error(selection, part)
        return mean + z * error if z > 0 else mean

    def dense_metric(self, part: str) -> float:
        index = getattr(self.calib, part)
        return float(self.dense_quality[index].mean()) if len(index) else float("nan")
