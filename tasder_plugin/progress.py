"""The project's one policy for progress bars (profiling, dense caching, the search)."""

from __future__ import annotations

import os
import sys

__all__ = ["progress_enabled"]


def progress_enabled() -> bool:
    """Shown on a terminal; never in logs, captured test output, or when ``TASDER_PROGRESS=0``."""
    stderr = sys.stderr
    return os.environ.get("TASDER_PROGRESS", "1") != "0" and bool(stderr and stderr.isatty())
