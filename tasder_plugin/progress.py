"""The project's one policy for progress bars (profiling, dense caching, the search)."""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["progress_enabled", "quiet_library_bars"]


def progress_enabled() -> bool:
    """Shown on a terminal; never in logs, captured test output, or when ``TASDER_PROGRESS=0``."""
    stderr = sys.stderr
    return os.environ.get("TASDER_PROGRESS", "1") != "0" and bool(stderr and stderr.isatty())


@contextlib.contextmanager
def quiet_library_bars(is_enabled, disable, enable):
    """Within the block, a library's own bars (``datasets``, ``transformers`` draw them even
    into logs) follow :func:`progress_enabled`; their previous state is restored after."""
    was_enabled = is_enabled()
    if was_enabled and not progress_enabled():
        disable()
    try:
        yield
    finally:
        if was_enabled:
            enable()
