"""Atomic file writes: results, plans, caches and checkpoints are never seen half-written.

The content goes to a temporary file beside the target, which ``os.replace`` then publishes in one
step, so a reader (or a parallel sweep job) sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["cannot_write", "write_atomic", "write_text_atomic"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """``write(tmp_path)`` fills a temporary file next to ``path``; then it replaces ``path``.

    Parent folders are created; on failure the temporary file is removed and ``path`` untouched.
    The file gets the permissions a plain ``open(path, "w")`` would give it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_atomic(path, lambda tmp: Path(tmp).write_text(text))


def cannot_write(err: OSError, path: str | os.PathLike) -> str:
    """``cannot write <file>: <reason>``, for the one-line message of a failed write to ``path``
    (the file the OS names, when it names one: a read-only parent, a file where a folder is)."""
    return f"cannot write {err.filename or path}: {err.strerror or err}"
