"""Seconds and forward passes per phase of a search, for its summary.

A search spends its time in a few phases (the dense reference outputs, proxy errors,
sensitivities, bisections, refinement, the holdout guard); the summary reports each, so a slow
search says where its time went.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["PhaseClock"]


class PhaseClock:
    """Accumulates wall seconds and forward passes (read from ``forwards()``) by phase name."""

    def __init__(self, forwards: Callable[[], int]):
        self._forwards = forwards
        self.phases: dict[str, dict[str, float]] = {}
        self._open: str | None = None

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the block as ``name``; a phase opened inside another one counts as the outer."""
        if self._open is not None:
            yield
            return
        self._open = name
        start, before = time.perf_counter(), self._forwards()
        try:
            yield
        finally:
            self._open = None
            row = self.phases.setdefault(name, {"seconds": 0.0, "forwards": 0})
            row["seconds"] += time.perf_counter() - start
            row["forwards"] += self._forwards() - before

    def summary(self) -> dict[str, dict[str, float]]:
        """Per phase, in the order first seen: seconds (rounded to ms) and forward passes."""
        return {
            name: {"seconds": round(row["seconds"], 3), "forwards": int(row["forwards"])}
            for name, row in self.phases.items()
        }
