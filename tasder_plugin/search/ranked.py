"""The ``ranked`` strategy: single-layer sensitivities ranked per unit of cost saved.

The plain baseline every other strategy is measured against. Every (layer, candidate) pair of
the space carries its measured sensitivity (the divergence from dense with only that layer
changed); pairs are ranked by sensitivity per unit of linearised objective saved (d log EDP for
``edp``) and added in that order, a layer keeping the cheapest of its candidates added so far.
That defines a path of plans from dense to everything; a bisection with real forward passes
finds the longest prefix that holds the budget on the search part, and the holdout guard backs
off along the path (conservative first) until the holdout holds it too.
"""

from __future__ import annotations

from .space import SearchSpace
from .strategies import SearchContext, longest_passing, register_strategy

__all__ = ["ranked", "ranked_path"]


def _gain(space: SearchSpace, weights: tuple[float, float], i: int, j: int) -> float:
    options = space.layers[i].options
    return options[j].saving(options[0], weights)


def ranked_path(space: SearchSpace) -> list[list[int]]:
    """Plans after each added pair, dense first, each distinct and cheaper than the one before
    in the objective linearised at dense (for EDP the exact value may rise slightly)."""
    weights = space.weights()
    pairs = []
    for i, ls in enumerate(space.layers):
        for j in range(1, len(ls.options)):
            gain = _gain(space, weights, i, j)
            if gain > 0:
                pairs.append((ls.options[j].sensitivity / gain, -gain, i, j))
    choice = space.dense_choice()
    path = [list(choice)]
    for *_, i, j in sorted(pairs):
        if _gain(space, weights, i, j) > _gain(space, weights, i, choice[i]):
            choice[i] = j
            path.append(list(choice))
    return path


@register_strategy("ranked")
def ranked(ctx: SearchContext) -> list[int]:
    """Rank (layer, candidate) pairs by sensitivity per cost saved, add while the budget holds
    on the search part (bisection), then back off until the holdout holds it (module docstring)."""
    path = ranked_path(ctx.space)
    best = longest_passing(ctx, path, "ranked")
    return ctx.guard(path[: best + 1])
