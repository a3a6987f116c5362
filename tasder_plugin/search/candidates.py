"""The per-layer candidate space of a search, read off the hardware spec.

A side (weights or activations) may use any series of up to ``max_terms`` patterns the hardware
supports on that side. Series are written in greedy order (a denser term first). A series whose
terms all share one ``m`` keeps exactly the top ``sum(n)`` values of each block, so it is
skipped when that single pattern is supported (same values, fewer passes), and it is known to be
exact when ``sum(n) >= m`` (no measurement needed: it changes nothing).
"""

from __future__ import annotations

from itertools import combinations_with_replacement

from ..errors import ConfigError
from ..hardware.spec import HardwareSpec
from ..tasd.patterns import NMPattern, Side, TASDSeries

__all__ = ["SearchSpaceError", "series_space", "side_spaces", "is_exact"]


class SearchSpaceError(ConfigError):
    """The hardware offers nothing to search (no usable pattern on any side)."""


def is_exact(series: TASDSeries) -> bool:
    """True when the series reproduces every tensor exactly (same-``m`` terms covering a block)."""
    ms = {p.m for p in series}
    return len(ms) == 1 and sum(p.n for p in series) >= next(iter(ms))


def _redundant(terms: tuple[NMPattern, ...], supported: set[tuple[int, int]]) -> bool:
    """A multi-term same-``m`` series equal to a supported single pattern (or to dense)."""
    if len(terms) < 2 or len({p.m for p in terms}) != 1:
        return False
    m, n = terms[0].m, sum(p.n for p in terms)
    return (min(n, m), m) in supported


def series_space(patterns: tuple[NMPattern, ...], max_terms: int) -> list[TASDSeries]:
    """Every distinct, non-redundant series of 1..``max_terms`` supported sparse patterns."""
    if max_terms < 1:
        raise ConfigError(f"max_terms must be >= 1, got {max_terms}")
    sparse = sorted({p for p in patterns if not p.is_dense}, key=lambda p: (-p.density, p.m))
    supported = {(p.n, p.m) for p in patterns} | {(p.m, p.m) for p in patterns if p.is_dense}
    space = []
    for length in range(1, max_terms + 1):
        for terms in combinations_with_replacement(sparse, length):  # keeps the denser-first order
            if not _redundant(terms, supported):
                space.append(TASDSeries(terms))
    return space


def side_spaces(hw: HardwareSpec, max_terms: int) -> dict[str, list[TASDSeries]]:
    """Weight-side and activation-side series for ``hw``; errors if both are empty."""
    sp = hw.sparsity
    spaces = {
        Side.W: series_space(sp.weights, max_terms),
        Side.A: series_space(sp.activations, max_terms),
    }
    if not spaces[Side.W] and not spaces[Side.A]:
        raise SearchSpaceError(
            f"hardware {hw.name!r} supports no sparse N:M pattern on weights or activations "
            f"(engine {sp.engine!r}); a TASD search has nothing to choose from"
        )
    return spaces
