"""``search_plan``: the cheapest per-layer TASD plan that keeps accuracy within a budget.

``run_search`` returns the plan with its search log (per layer: candidates, sensitivity,
energy, latency, choice; per check: the measured drops); ``search_plan`` returns the plan only.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..atomic_io import write_text_atomic
from ..hardware import load_hardware
from ..hardware.spec import HardwareSpec
from ..nn import ModelPlan, select_layers
from ..profile import profile_model
from . import tasder as _tasder  # noqa: F401  (registers the tasder strategy)
from .calibration import Calibration, take_samples
from .candidates import side_spaces
from .evaluator import PlanEvaluator, to_plan
from .objective import get_objective
from .scoring import get_scorer
from .space import build_space
from .strategies import STRATEGIES, SearchContext

__all__ = ["SearchResult", "run_search", "search_plan"]


@dataclass
class SearchResult:
    plan: ModelPlan
    summary: dict  # strategy, budget, calibration sizes, drops, objective, forwards, wall time
    layers: list[dict] = field(default_factory=list)  # per layer: options and the choice
    trials: list[dict] = field(default_factory=list)  # every budget check, in order

    def save_log(self, path: str | Path) -> Path:
        """The search log as JSON (written atomically)."""
        data = {"summary": self.summary, "layers": self.layers, "trials": self.trials}
        return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def _check_args(max_drop: float, strategy: str, max_terms: int, max_candidates: int) -> None:
    if not max_drop >= 0:
        raise ValueError(f"max_drop is a budget (a fraction, e.g. 0.01 = 1 point): got {max_drop}")
    if strategy not in STRATEGIES:
        raise ValueError(
            f"unknown search strategy {strategy!r}; choose one of {sorted(STRATEGIES)}"
        )
    if max_terms < 1 or max_candidates < 1:
        raise ValueError("max_terms and max_candidates must be >= 1")


def _calibration(calib, task: str, holdout: float, seed: int) -> Calibration:
    if isinstance(calib, Calibration):
        return calib
    return Calibration.from_batches(calib, holdout=holdout, seed=seed, labelled=task != "embedding")


def _layer_log(space, choice: list[int]) -> list[dict]:
    return [
        {
            "fqn": ls.fqn,
            "op": ls.op,
            "macs": ls.macs,
            "pruned_candidates": ls.pruned,
            "choice": ls.options[c].candidate.label(),
            "options": [o.as_row() for o in ls.options],
        }
        for ls, c in zip(space.layers, choice)
    ]


def _outcome(evaluator: PlanEvaluator, space, choice: list[int], sensitivity_samples: int) -> dict:
    """What the chosen plan does on each calibration part, and what it saves (cost model)."""
    selection = space.selection(choice)
    data = evaluator.calib
    return {
        "metric": evaluator.scorer.metric,
        "calib_samples": data.size,
        "search_samples": len(data.search),
        "holdout_samples": len(data.holdout),
        "sensitivity_samples": sensitivity_samples,
        "dense_metric_calib": float(evaluator.dense_quality.mean()),
        "metric_calib": float(evaluator.quality(selection).mean()),
        "dense_metric_search": evaluator.dense_metric("search"),
        "dense_metric_holdout": evaluator.dense_metric("holdout"),
        "drop_search": evaluator.drop(selection, "search"),
        "drop_holdout": evaluator.drop(selection, "holdout"),
        "layers_searched": len(space.layers),
        "layers_decomposed": len(selection),
        "estimated_reduction": 1.0 - space.value(choice) / space.value(space.dense_choice()),
        "forwards": evaluator.forwards,
    }


def run_search(
    model: nn.Module,
    calib,
    hw: HardwareSpec | str,
    *,
    max_drop: float = 0.01,
    strategy: str = "tasder",
    objective: str = "edp",
    task: str = "classification",
    max_terms: int = 2,
    max_candidates: int = 4,
    holdout: float = 0.3,
    sensitivity_samples: int = 128,
    refine_trials: int | None = None,
    confidence: float = 1.0,
    targets=None,
    ignore=(),
    profile=None,
    cost_batch_size: int = 1,
    stats_samples: int = 32,
    seed: int = 0,
    progress: bool = False,
) -> SearchResult:
    """Search a plan for ``model`` on ``hw`` (see the strategies' docstrings and the README).

    ``calib``: a DataLoader (or any iterable) of ``(inputs, labels, ...)`` batches, or a
    :class:`Calibration`; ``max_drop``: the allowed drop of the calibration metric (top-1 for
    classifiers, as a fraction); ``profile``: the :func:`profile_model` the cost is computed on
    (default: the shapes of ``cost_batch_size`` samples, the input statistics of the first
    ``stats_samples`` calibration samples).
    """
    start = time.perf_counter()
    _check_args(max_drop, strategy, max_terms, max_candidates)
    hw = load_hardware(hw)
    sides = side_spaces(hw, max_terms)  # before any forward: a spec with nothing to search fails
    goal = get_objective(objective)
    data = _calibration(calib, task, holdout, seed)
    training = model.training
    model.eval()
    try:
        if profile is None:
            head = torch.arange(min(stats_samples, data.size))
            example = take_samples(data.inputs, head)
            profile = profile_model(model, example, batch_size=cost_batch_size)
        evaluator = PlanEvaluator(model, select_layers(model), data, get_scorer(task))
        sens_index = data.search[:sensitivity_samples]
        space = build_space(
            model, profile, hw, evaluator, sides, goal,
            targets=select_layers(model, targets, ignore), max_candidates=max_candidates,
            sensitivity_index=sens_index, progress=progress,
        )  # fmt: skip
        refine = 2 * len(space.layers) if refine_trials is None else refine_trials
        ctx = SearchContext(space, evaluator, max_drop, refine, confidence)
        choice = STRATEGIES[strategy](ctx)
        selection = space.selection(choice)
        summary = {
            "strategy": strategy,
            "objective": objective,
            "max_drop": max_drop,
            "hw": hw.name,
            **_outcome(evaluator, space, choice, len(sens_index)),
            "wall_s": time.perf_counter() - start,
        }
    finally:
        model.train(training)
    plan = to_plan(evaluator.layers, selection)
    return SearchResult(plan, summary, _layer_log(space, choice), ctx.trials)


def search_plan(
    model: nn.Module,
    calib,
    hw: HardwareSpec | str,
    max_drop: float = 0.01,
    strategy: str = "tasder",
    objective: str = "edp",
    **options,
) -> ModelPlan:
    """TASDER: the plan :func:`run_search` finds (options as there)."""  # fmt: skip
    return run_search(
        model, calib, hw, max_drop=max_drop, strategy=strategy, objective=objective, **options
    ).plan
