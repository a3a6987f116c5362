"""The cover rule and the effective reduction length K_eff of one pass.

A term ``n:m`` runs on a supported pattern ``n*:m*`` that can hold every block it produces:
same m: n* >= n; m* divides m: n* >= min(n, m*); m divides m*: n* >= n.m*/m. The covering
pattern with the smallest n*/m* wins (then the smaller m*); no cover: the pass runs dense.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import ConfigError
from ..tasd.patterns import NMPattern

__all__ = ["covers", "cover", "k_eff", "metadata_bits"]


def covers(hw: NMPattern, term: NMPattern) -> bool:
    """True when every block ``term`` can produce fits pattern ``hw``."""
    if hw.m == term.m:
        return hw.n >= term.n
    if term.m % hw.m == 0:
        return hw.n >= min(term.n, hw.m)
    if hw.m % term.m == 0:
        return hw.n * term.m >= term.n * hw.m
    return False


def cover(term: NMPattern, supported: Iterable[NMPattern]) -> NMPattern | None:
    """The cheapest supported pattern covering ``term`` (``None``: none covers, run dense)."""
    options = [p for p in supported if covers(p, term)]
    return min(options, key=lambda p: (p.density, p.m), default=None)


def k_eff(k, n, m, row=None):
    """Slots of a length-``k`` reduction kept by ``n:m``: floor(L/m).n + min(n, L mod m) per row.

    ``row`` is the length of one blocked row (channels per group of a conv; blocks never cross
    it); ``None`` means all of K is one row. ``n == m`` (dense) gives ``k``. ``n`` and ``m`` may
    be integer numpy arrays (one value per pass): the cost model's single K_eff.
    """
    row = k if row is None else row
    kept = (k // row) * ((row // m) * n + np.minimum(n, row % m))
    return int(kept) if np.ndim(kept) == 0 else kept


def metadata_bits(fmt: str, pattern: NMPattern | None, block: int = 8) -> float:
    """Metadata bits per kept value (``bitmap``: per position, returned per kept value)."""
    if pattern is None or fmt == "none":
        return 0.0
    if fmt == "coordinate":
        return float((pattern.m - 1).bit_length())  # ceil(log2 m)
    if fmt == "block_index":
        return float((block - 1).bit_length())
    if fmt == "bitmap":
        return float(pattern.m) / pattern.n
    raise ConfigError(f"unknown metadata format {fmt!r}")
