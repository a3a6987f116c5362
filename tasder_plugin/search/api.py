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
from ..config import replace_options
from ..errors import ConfigError
from ..hardware import load_hardware
from ..hardware.spec import HardwareSpec
from ..nn import ModelPlan, select_layers
from ..profile import profile_model
from ..profile.decode import decode_step
from ..profile.settings import CostSettings
from ..tasks import Task
from .calibration import Calibration, take_samples
from .candidates import side_spaces
from .evaluator import PlanEvaluator, to_plan
from .objective import get_objective
from .options import SearchOptions
from .scoring import get_scorer
from .sensitivity import resolve_method
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


def _calibration(calib, task: Task, holdout: float, seed: int) -> Calibration:
    if isinstance(calib, Calibration):
        return calib
    return Calibration.from_batches(calib, holdout=holdout, seed=seed, labelled=task.classifies)


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
    drop_holdout, holdout_se = evaluator.drop_and_error(selection, "holdout")
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
        "drop_holdout": drop_holdout,
        "drop_holdout_se": holdout_se,
        "layers_searched": len(space.layers),
        "layers_decomposed": len(selection),
        "estimated_reduction": 1.0 - space.value(choice) / space.value(space.dense_choice()),
        "forwards": evaluator.forwards,
        "phases": evaluator.clock.summary(),
    }


def run_search(
    model: nn.Module,
    calib,
    hw: HardwareSpec | str,
    options: SearchOptions | None = None,
    *,
    task: Task | str = "classification",
    profile=None,
    cost: CostSettings | None = None,
    seed: int = 0,
    progress: bool = False,
    **overrides,
) -> SearchResult:
    """Search a plan for ``model`` on ``hw`` (see the strategies' docstrings and the README).

    ``calib``: a DataLoader (or any iterable) of ``(inputs, labels, ...)`` batches, or a
    :class:`Calibration`; ``options`` / ``overrides``: :class:`SearchOptions` fields (e.g.
    ``max_drop=0.01``: the allowed drop of the calibration metric, top-1 for classifiers, as a
    fraction); ``profile``: the :func:`profile_model` the cost is computed on (default: one made
    as ``cost`` says, the shapes of ``cost.batch_size`` samples and the input statistics of the
    first ``cost.stats_samples`` calibration samples).
    """
    start = time.perf_counter()
    opts = replace_options(options or SearchOptions(), overrides)
    task = Task.parse(task)
    scorer = get_scorer(task)  # before any work: a task no search can score fails here
    hw = load_hardware(hw)
    sides = side_spaces(hw, opts.max_terms)  # before any forward: nothing to search fails here
    data = _calibration(calib, task, opts.holdout, seed)
    training = model.training
    model.eval()
    try:
        if profile is None:
            profile = _profile(model, data, cost or CostSettings())
        result = _search(model, data, hw, opts, sides, scorer, profile, progress)
    finally:
        model.train(training)
    result.summary["wall_s"] = time.perf_counter() - start
    return result


def _profile(model: nn.Module, data: Calibration, cost: CostSettings):
    """The profile the cost is computed on, from the calibration samples (a causal LM's decode
    phase: one real decode step after ``cost.context`` tokens of them)."""
    if cost.phase == "decode":
        if not isinstance(data.inputs, dict) or "input_ids" not in data.inputs:
            raise ConfigError("cost.phase=decode costs a causal LM's token step: the calibration "
                              "samples must be token windows ({'input_ids': ...})")  # fmt: skip
        windows = (inputs["input_ids"] for _, inputs in data.chunks(torch.arange(data.size)))
        return profile_model(model, decode_step(model, windows, cost.batch_size, cost.context))
    head = torch.arange(min(cost.stats_samples, data.size))
    return profile_model(model, take_samples(data.inputs, head), batch_size=cost.batch_size)


def _search(model, data, hw, opts: SearchOptions, sides, scorer, profile, progress) -> SearchResult:
    limit = scorer.drop_limit(opts.max_drop, opts.max_increase)
    method = resolve_method(opts.sensitivity, scorer)
    evaluator = PlanEvaluator(model, select_layers(model), data, scorer)
    sens_index = data.search[: opts.sensitivity_samples]
    space = build_space(
        model, profile, hw, evaluator, sides, get_objective(opts.objective),
        targets=select_layers(model, opts.targets, opts.ignore), max_candidates=opts.max_candidates,
        sensitivity_index=sens_index, sensitivity=method, progress=progress,
    )  # fmt: skip
    refine = 2 * len(space.layers) if opts.refine_trials is None else opts.refine_trials
    ctx = SearchContext(space, evaluator, limit, refine, opts.confidence, progress=progress)
    choice = STRATEGIES.get(opts.strategy)(ctx)
    outcome = _outcome(evaluator, space, choice, len(sens_index))
    summary = {
        "strategy": opts.strategy,
        "objective": opts.objective,
        "max_drop": limit,
        **({"max_increase": opts.max_increase} if opts.max_increase is not None else {}),
        "sensitivity": method,
        "hw": hw.name,
        **outcome,
        **scorer.summary({p: outcome[f"drop_{p}"] for p in ("search", "holdout")}),
    }
    plan = to_plan(evaluator.layers, space.selection(choice))
    return SearchResult(plan, summary, _layer_log(space, choice), ctx.trials)


def search_plan(
    model: nn.Module, calib, hw: HardwareSpec | str, options: SearchOptions | None = None, **kw
) -> ModelPlan:
    """TASDER: the plan :func:`run_search` finds (arguments as there, e.g. ``max_drop=0.01``)."""
    return run_search(model, calib, hw, options, **kw).plan
