"""Where TASD outputs live: large CPU outputs come from a bounded cache of already-touched memory.

Writing a fresh tensor for the first time page-faults every page; in a VM that costs more than
the decomposition itself (see ``_outputpool.cpp``). Torch's CPU allocator keeps nothing, so
large CPU outputs of ``decompose``/``approximate``/``nm_mask`` come from the ``_outputpool``
extension instead: a released block is handed out again to the next request of the same size.
Everything else (small outputs, other devices, no extension) comes from ``torch.empty``.

``TASDER_OUTPUT_CACHE_MB`` bounds the idle memory kept (default 1024; ``0`` turns caching off,
read at import); :func:`empty_output_cache` frees every idle block now. Cached outputs are
ordinary tensors except that their storage cannot be resized (like any ``from_dlpack`` tensor).
"""

from __future__ import annotations

import os

import torch
from torch.utils.dlpack import from_dlpack

from ..errors import ConfigError

__all__ = ["empty_output_cache", "new_output", "output_cache_available", "output_cache_info"]

# Below this size glibc serves outputs from its heap at little cost; the cache pays an mmap.
_CACHE_MIN_BYTES = 256 << 10
_DEFAULT_CACHE_MB = 1024


def _cache_limit_bytes() -> int:
    text = os.environ.get("TASDER_OUTPUT_CACHE_MB", str(_DEFAULT_CACHE_MB))
    try:
        megabytes = float(text)
    except ValueError:
        raise ConfigError(
            f"TASDER_OUTPUT_CACHE_MB={text!r}: expected a number of MiB >= 0, e.g. 1024"
        ) from None
    if megabytes < 0:
        raise ConfigError(f"TASDER_OUTPUT_CACHE_MB={text!r}: expected a number of MiB >= 0")
    return int(megabytes * (1 << 20))


def _load_pool():
    try:
        from . import _outputpool
    except ImportError:  # pragma: no cover - only where the extension could not be built
        return None
    limit = _cache_limit_bytes()
    if limit == 0:
        return None
    _outputpool.set_limit(limit)
    return _outputpool


_pool = _load_pool()


def output_cache_available() -> bool:
    """True when large CPU outputs come from the cache (extension built, cache not turned off)."""
    return _pool is not None


def new_output(shape: torch.Size, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """An uninitialised contiguous tensor for a TASD output (cached memory where it pays)."""
    nbytes = torch.Size(shape).numel() * dtype.itemsize
    if _pool is None or device.type != "cpu" or nbytes < _CACHE_MIN_BYTES:
        return torch.empty(shape, dtype=dtype, device=device)
    raw = from_dlpack(_pool.empty(nbytes))
    return raw.view(dtype).view(shape)


def empty_output_cache() -> int:
    """Free every idle cached block now; returns the bytes released (0 without a cache)."""
    return _pool.release() if _pool is not None else 0


def output_cache_info() -> dict[str, int]:
    """Idle bytes and blocks, the limit, and how many requests reused a block (hits) or not."""
    if _pool is None:
        return {"idle_bytes": 0, "idle_blocks": 0, "limit": 0, "hits": 0, "misses": 0}
    return dict(_pool.info())
