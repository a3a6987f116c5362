"""Search strategies: from a measured :class:`SearchSpace` to one choice per layer.

A strategy is a function ``(SearchContext) -> list[int]`` (an option index per layer) registered
by name. All of them state the budget the same way: the drop of the calibration metric from
dense, on the search part, plus ``confidence`` standard errors, at most ``max_drop``; and all of
them end with the same guard: the plan must also hold the budget on the holdout part (with the
same margin in points), else they back off along their own history of accepted steps (see
:mod:`.calibration` for why). Each phase of checks is timed and shows a progress bar.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..registry import Registry
from .evaluator import PlanEvaluator
from .space import SearchSpace

__all__ = ["SearchContext", "STRATEGIES", "register_strategy"]

STRATEGIES: Registry[Callable[[SearchContext], list[int]]] = Registry("tasd.strategy")


def register_strategy(name: str):
    """Decorator registering ``fn(ctx) -> choice`` as the strategy ``name``."""
    return STRATEGIES.entry(name)


@dataclass
class SearchContext:
    space: SearchSpace
    evaluator: PlanEvaluator
    max_drop: float
    refine_trials: int = 0  # tasder: single-layer moves tried from each refined start
    confidence: float = 1.0  # z: the budget must hold for the mean drop + z standard errors
    trials: list[dict] = field(default_factory=list)  # every budget check, for the search log
    progress: bool = False  # a progress bar on stderr for each phase of budget checks

    def passes(self, choice: list[int], part: str = "search", step: str = "") -> bool:
        selection = self.space.selection(choice)
        z = self.confidence * self._margin_scale(part)
        ok, drop = self.evaluator.check(selection, part, self.max_drop + 1e-12, z)
        self.trials.append(
            {"step": step, "part": part, "value": self.space.value(choice), "drop": drop, "ok": ok}
        )
        return ok

    def _margin_scale(self, part: str) -> float:
        """1 on the search part; on the holdout, the z that asks the same margin in points
        (z * sigma / sqrt(n) equal on both parts, for one sigma), not one scaled by its size."""
        calib = self.evaluator.calib
        if part == "search" or not len(calib.search):
            return 1.0
        return (len(calib.holdout) / len(calib.search)) ** 0.5

    @contextmanager
    def phase(self, name: str, total: int | None):
        """Time the block as phase ``name`` and give it a progress bar over ``total`` steps."""
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=f"search: {name}", disable=not self.progress, leave=False)
        with self.evaluator.clock(name), bar:
            yield bar

    def guard(self, history: list[list[int]]) -> list[int]:
        """The most aggressive step of ``history`` (conservative first) that holds the budget on
        both parts; dense if none does."""
        with self.phase("holdout guard", len(history)) as bar:
            for choice in reversed(history):
                if self.passes(choice, "search", "guard") and self.passes(
                    choice, "holdout", "guard"
                ):
                    return choice
                bar.update()
        return self.space.dense_choice()


def longest_passing(ctx: SearchContext, path: list[list[int]], step: str) -> int:
    """Bisection: the index of the most aggressive plan of ``path`` (dense first, ever more
    aggressive, drops taken as rising along it) holding the budget on the search part."""
    lo, hi = 0, len(path) - 1
    with ctx.phase(f"{step} bisection", max(hi, 1).bit_length()) as bar:
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if ctx.passes(path[mid], "search", f"{step} path"):
                lo = mid
            else:
                hi = mid - 1
            bar.update()
    return lo


def _settings(space: SearchSpace) -> list[tuple[float, str, list[int]]]:
    """Every global setting (one candidate label on every layer offering it) with its value."""
    labels = sorted(
        {o.candidate.label() for ls in space.layers for o in ls.options if not o.candidate.is_dense}
    )
    settings = []
    for label in labels:
        choice = [
            next((j for j, o in enumerate(ls.options) if o.candidate.label() == label), 0)
            for ls in space.layers
        ]
        settings.append((space.value(choice), label, choice))
    return sorted(settings, key=lambda s: (s[0], s[1]))


def best_uniform(ctx: SearchContext) -> list[int]:
    """The cheapest global setting holding the budget on both parts (dense if none does)."""
    space = ctx.space
    dense_value = space.value(space.dense_choice())
    settings = [s for s in _settings(space) if s[0] < dense_value]
    with ctx.phase("uniform", len(settings)) as bar:
        for _, label, choice in settings:
            if ctx.passes(choice, "search", f"uniform {label}") and ctx.passes(
                choice, "holdout", f"uniform {label}"
            ):
                return choice
            bar.update()
    return space.dense_choice()


@register_strategy("uniform")
def uniform(ctx: SearchContext) -> list[int]:
    """The cheapest single global setting (one candidate on every layer that offers it, in
    order of the objective) that holds the budget on the search and holdout parts."""
    return best_uniform(ctx)


def _cheapest_option(space: SearchSpace, i: int, weights: tuple[float, float]) -> int:
    scores = [weights[0] * o.energy_j + weights[1] * o.latency_s for o in space.layers[i].options]
    return int(np.argmin(scores))


@register_strategy("greedy")
def greedy(ctx: SearchContext) -> list[int]:
    """The paper's TASDER on top of the uniform plan: layers in order of measured sensitivity
    (least sensitive first: the divergence when the layer alone takes its cheapest candidate),
    each moved to the cheapest candidate that keeps the whole model within budget on the
    search part (else it keeps its current choice). One pass; starting from the uniform plan
    means it never ends up worse than uniform."""
    space, weights = ctx.space, ctx.space.weights()
    order = sorted(
        range(len(space.layers)),
        key=lambda i: (space.layers[i].options[_cheapest_option(space, i, weights)].sensitivity, i),
    )
    choice = best_uniform(ctx)
    history = [space.dense_choice(), list(choice)]
    with ctx.phase("greedy layers", len(order)) as bar:
        for i in order:
            if (trial := _greedy_step(ctx, choice, i)) is not None:
                choice = trial
                history.append(list(choice))
            bar.update()
    return ctx.guard(history)


def _greedy_step(ctx: SearchContext, choice: list[int], i: int) -> list[int] | None:
    """Layer ``i`` at its cheapest option that keeps the budget on the search part, if any."""
    space = ctx.space
    current = space.value(choice)
    trials = []
    for j in range(1, len(space.layers[i].options)):
        trial = list(choice)
        trial[i] = j
        if (value := space.value(trial)) < current:
            trials.append((value, j, trial))
    for *_, trial in sorted(trials, key=lambda t: (t[0], t[1])):
        if ctx.passes(trial, "search", f"greedy {space.layers[i].fqn}"):
            return trial
    return None
