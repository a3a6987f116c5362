"""The ``tasder`` strategy: a Lagrangian multiple-choice knapsack, verified, then refined.

1. Path: for a geometric grid of prices ``lam``, every layer independently picks the option
   minimising its linearised objective (d log EDP = dE/E + dD/D, re-linearised at the new totals
   three times) plus ``lam`` x its measured sensitivity. Sweeping ``lam`` traces plans from
   the most aggressive to dense; sensitivities add up across layers to a first approximation.
2. Verification: a bisection along the path finds the cheapest plan that holds the budget on the
   search part (real forward passes: sensitivities do not add exactly). The best uniform plan
   is a second starting point; the cheaper of the two is refined.
3. Refinement: single-layer moves to cheaper options, best objective gain per unit of added
   sensitivity first, each kept only if the budget still holds (``refine_trials`` at most).
4. Guard: the holdout part must hold the budget too, else refinement steps are undone, then the
   path is walked back towards dense.
"""

from __future__ import annotations

import numpy as np

from .space import SearchSpace
from .strategies import SearchContext, best_uniform, register_strategy

__all__ = ["lagrangian_path", "tasder"]


def _price_grid(space: SearchSpace, count: int) -> np.ndarray:
    """Prices spanning every option's gain-per-sensitivity ratio (with a decade each side)."""
    w_e, w_d = space.objective.weights(*space.totals(space.dense_choice()))
    ratios = []
    for ls in space.layers:
        dense = ls.options[0]
        for o in ls.options[1:]:
            gain = w_e * (dense.energy_j - o.energy_j) + w_d * (dense.latency_s - o.latency_s)
            if gain > 0 and o.sensitivity > 0:
                ratios.append(gain / o.sensitivity)
    if not ratios:
        return np.array([0.0])
    return np.concatenate([[0.0], np.geomspace(min(ratios) / 10, max(ratios) * 10, count)])


def _best_response(space: SearchSpace, price: float, rounds: int = 3) -> list[int]:
    choice = space.dense_choice()
    for _ in range(rounds):
        w_e, w_d = space.objective.weights(*space.totals(choice))
        choice = [
            int(np.argmin([w_e * o.energy_j + w_d * o.latency_s + price * o.sensitivity
                           for o in ls.options]))
            for ls in space.layers
        ]  # fmt: skip
    return choice


def lagrangian_path(space: SearchSpace, count: int = 48) -> list[list[int]]:
    """Distinct best-response plans over the price grid, cheapest (most aggressive) first; the
    last one is always dense."""
    seen, path = set(), []
    for price in _price_grid(space, count):
        choice = _best_response(space, float(price))
        if tuple(choice) not in seen:
            seen.add(tuple(choice))
            path.append(choice)
    dense = space.dense_choice()
    path = [c for c in path if c != dense]
    path.sort(key=lambda c: (space.value(c), c))
    return [*path, dense]


def _moves(space: SearchSpace, choice: list[int], failed: set) -> list[tuple[int, int]]:
    """Single-layer moves that lower the objective, best gain per added sensitivity first."""
    w_e, w_d = space.objective.weights(*space.totals(choice))
    ranked = []
    for i, ls in enumerate(space.layers):
        cur = ls.options[choice[i]]
        for j, o in enumerate(ls.options):
            gain = w_e * (cur.energy_j - o.energy_j) + w_d * (cur.latency_s - o.latency_s)
            if gain <= 0 or (i, j) in failed:
                continue
            added = max(o.sensitivity - cur.sensitivity, 0.0)
            ranked.append((-gain / (added + 1e-12), -gain, i, j))
    return [(i, j) for *_, i, j in sorted(ranked)]


@register_strategy("tasder")
def tasder(ctx: SearchContext) -> list[int]:
    """Lagrangian knapsack path, bisection, refinement, holdout guard (module docstring)."""
    space = ctx.space
    path = lagrangian_path(space)
    lo, hi = 0, len(path) - 1  # path[-1] is dense: always within budget
    while lo < hi:
        mid = (lo + hi) // 2
        if ctx.passes(path[mid], "search", "tasder path"):
            hi = mid
        else:
            lo = mid + 1
    history = [list(c) for c in reversed(path[lo:])]  # conservative first
    seed = best_uniform(ctx)
    if space.value(seed) < space.value(path[lo]):
        history.append(seed)
    choice, failed = list(history[-1]), set()
    for _ in range(ctx.refine_trials):
        moves = _moves(space, choice, failed)
        if not moves:
            break
        i, j = moves[0]
        trial = list(choice)
        trial[i] = j
        if ctx.passes(trial, "search", f"tasder refine {space.layers[i].fqn}"):
            choice = trial
            history.append(list(choice))
        else:
            failed.add((i, j))
    return ctx.guard(history)
