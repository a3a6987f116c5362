"""TASDER: per-layer search for the cheapest TASD plan within an accuracy budget.

Strategies (``uniform``, ``greedy``, ``tasder``) share one measured search space
(:mod:`.space`) and one budget check with a holdout guard (:mod:`.strategies`).
"""

from .api import SearchResult, run_search, search_plan
from .calibration import Calibration, CalibrationError
from .candidates import Candidate, SearchSpaceError, series_space
from .strategies import STRATEGIES, register_strategy

__all__ = [
    "STRATEGIES",
    "Calibration",
    "CalibrationError",
    "Candidate",
    "SearchResult",
    "SearchSpaceError",
    "register_strategy",
    "run_search",
    "search_plan",
    "series_space",
]
