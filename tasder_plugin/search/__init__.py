"""TASDER: per-layer search for the cheapest TASD plan within an accuracy budget.

Strategies (``uniform``, ``ranked``, ``greedy``, ``tasder``) share one measured search space
(:mod:`.space`) and one budget check with a holdout guard (:mod:`.strategies`). Each strategy
registers itself where it is defined; the strategy modules are imported here, so every built-in
strategy is available once any part of the package is.
"""

from . import ranked, strategies, tasder  # noqa: F401  (the built-in strategies register on import)
from .api import SearchResult, run_search, search_plan
from .calibration import Calibration, CalibrationError
from .candidates import SearchSpaceError, series_space
from .options import SearchOptions
from .strategies import STRATEGIES, register_strategy

__all__ = [
    "STRATEGIES",
    "Calibration",
    "CalibrationError",
    "SearchOptions",
    "SearchResult",
    "SearchSpaceError",
    "register_strategy",
    "run_search",
    "search_plan",
    "series_space",
]
