"""Wall-clock helpers shared by the benchmark scripts (run as `python benchmarks/<name>.py`)."""

from __future__ import annotations

import time
from collections.abc import Callable


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Best of ``repeats`` timed calls after one untimed warm-up call."""
    fn()
    return min(timed(fn) for _ in range(repeats))
