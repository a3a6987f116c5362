"""The ``tasder`` strategy: two verified paths, the best start refined, the best guarded plan.

1. Paths: the Lagrangian multiple-choice knapsack (for a geometric grid of prices ``lam``, every
   layer independently picks the option minimising its linearised objective, d log EDP = dE/E +
   dD/D re-linearised at the new totals three times, plus ``lam`` x its measured sensitivity),
   and the ``ranked`` path (pairs added by sensitivity per cost saved, :mod:`.ranked`).
2. Verification: a bisection along each path finds its cheapest plan that holds the budget on
   the search part (real forward passes: sensitivities do not add exactly). The cheapest of
   these and the best uniform plan is refined; so is the uniform plan itself (every layer
   decomposed: the region ``greedy`` explores) when it is another plan.
3. Refinement: single-layer moves to cheaper options, best objective gain per unit of added
   sensitivity first, each kept only if the budget still holds (``refine_trials`` at most).
4. Guard: the holdout part must hold the budget too, else refinement steps are undone, then the
   path is walked back towards dense. Each path's own guarded plan and the uniform plan stay
   candidates, so ``tasder`` returns the cheapest of them: never worse than ``ranked`` or
   ``uniform`` on the same data (their checks are the same, and cached).
"""

from __future__ import annotations

import numpy as np

from .ranked import ranked_path
from .space import SearchSpace
from .strategies import SearchContext, best_uniform, longest_passing, register_strategy

__all__ = ["lagrangian_path", "tasder"]


def _price_grid(space: SearchSpace, count: int) -> np.ndarray:
    """Prices spanning every option's gain-per-sensitivity ratio (with a decade each side)."""
    weights = space.weights()
    ratios = []
    for ls in space.layers:
        dense = ls.options[0]
        for o in ls.options[1:]:
            gain = o.saving(dense, weights)
            if gain > 0 and o.sensitivity > 0:
                ratios.append(gain / o.sensitivity)
    if not ratios:
        return np.array([0.0])
    return np.concatenate([[0.0], np.geomspace(min(ratios) / 10, max(ratios) * 10, count)])


def _best_response(space: SearchSpace, price: float, rounds: int = 3) -> list[int]:
    choice = space.dense_choice()
    for _ in range(rounds):
        w_e, w_d = space.weights(choice)
        choice = [
            int(np.argmin([w_e * o.energy_j + w_d * o.latency_s + price * o.sensitivity
                           for o in ls.options]))
            for ls in space.layers
        ]  # fmt: skip
    return choice


def lagrangian_path(space: SearchSpace, count: int = 48) -> list[list[int]]:
    """Distinct best-response plans over the price grid: dense first, then ever cheaper."""
    dense = space.dense_choice()
    seen, path = {tuple(dense)}, []
    for price in _price_grid(space, count):
        choice = _best_response(space, float(price))
        if tuple(choice) not in seen:
            seen.add(tuple(choice))
            path.append(choice)
    path.sort(key=lambda c: (-space.value(c), c))
    return [dense, *path]


def _moves(space: SearchSpace, choice: list[int], failed: set) -> list[tuple[int, int]]:
    """Single-layer moves that lower the objective, best gain per added sensitivity first."""
    weights = space.weights(choice)
    ranked = []
    for i, ls in enumerate(space.layers):
        cur = ls.options[choice[i]]
        for j, o in enumerate(ls.options):
            gain = o.saving(cur, weights)
            if gain <= 0 or (i, j) in failed:
                continue
            added = max(o.sensitivity - cur.sensitivity, 0.0)
            ranked.append((-gain / (added + 1e-12), -gain, i, j))
    return [(i, j) for *_, i, j in sorted(ranked)]


@register_strategy("tasder")
def tasder(ctx: SearchContext) -> list[int]:
    """Two paths bisected, the cheapest start refined, the cheapest guarded plan (docstring)."""
    space = ctx.space
    paths = {"tasder": lagrangian_path(space), "ranked": ranked_path(space)}
    found = [path[: longest_passing(ctx, path, name) + 1] for name, path in paths.items()]
    uniform = best_uniform(ctx)  # already within budget on both parts
    start = min([*found, [uniform]], key=lambda h: (space.value(h[-1]), h[-1]))
    starts = [start]
    if uniform not in (start[-1], space.dense_choice()):
        starts.append([uniform])  # the region greedy explores: every layer decomposed
    finals = [uniform, *(ctx.guard(h) for h in found)]
    for history in starts:  # conservative first: the guard backs off along it
        finals.append(ctx.guard([*history, *_refine(ctx, history[-1])]))
    return min(finals, key=lambda c: (space.value(c), c))


def _refine(ctx: SearchContext, start: list[int]) -> list[list[int]]:
    """Up to ``refine_trials`` single-layer moves from ``start``: the accepted plans, in order."""
    space, choice, failed, accepted = ctx.space, list(start), set(), []
    with ctx.phase("tasder refine", ctx.refine_trials) as bar:
        for _ in range(ctx.refine_trials):
            moves = _moves(space, choice, failed)
            if not moves:
                break
            i, j = moves[0]
            trial = list(choice)
            trial[i] = j
            if ctx.passes(trial, "search", f"tasder refine {space.layers[i].fqn}"):
                choice = trial
                accepted.append(list(choice))
            else:
                failed.add((i, j))
            bar.update()
    return accepted
