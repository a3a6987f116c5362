"""Dense accuracy per (model, weights, data): computed once, then read back, so sweeps over
hardware and TASD settings do not re-run the dense model. Entries hold metrics and per-sample
predictions (for agreement), are written atomically and read with ``weights_only=True``.

On a terminal a status line says, before Lightning's bar for the dense pass, whether the dense
model runs (cache miss) or is read back; Lightning's bar is the progress of that pass. A second
bar around it would fight Lightning's for the same terminal lines."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from tasder_plugin.atomic_io import cannot_write, write_atomic
from tasder_plugin.progress import progress_enabled

__all__ = ["dense_accuracy", "dense_key"]


def _file_digest(path: str | None) -> str | None:
    """Identity of a weights file, or of every file in a checkpoint directory (save_pretrained):
    path, size and modification time, so rewritten weights are never read from a stale entry."""
    if not path:
        return None
    root = Path(path).expanduser()
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file())
        parts = [f"{p.relative_to(root)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
        return f"{root.resolve()}/[{','.join(parts)}]"
    if not root.is_file():
        return None
    stat = root.stat()
    return f"{root.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def _status(cfg, message: str) -> None:
    if progress_enabled() and cfg.trainer.get("enable_progress_bar", True):
        line = f"dense accuracy of {cfg.model.name} on {cfg.data.name}: {message}"
        tqdm.write(line, file=sys.stderr)


def dense_key(cfg, model_cfg) -> str:
    """Everything that changes the dense model's predictions, hashed."""
    from tasder_plugin.models.adapters import ADAPTERS

    weights = _file_digest(ADAPTERS.get(model_cfg.source).weights_file(model_cfg))
    identity = {
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "data": OmegaConf.to_container(cfg.data, resolve=True),
        "weights": weights,
        "data_files": _file_digest(cfg.data.get("path")),  # a local dataset copy (data.path)
        "torch": torch.__version__,
        "python": platform.python_version(),  # data=pydocs is this Python's own documentation
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def dense_accuracy(cfg, model_cfg, compute: Callable[[], dict], notes: list | None = None) -> dict:
    """Cached dense metrics (``val/*``) and ``predictions`` for this model and data. A cache
    that cannot be written costs the next run a dense pass, never this run: the reason is
    appended to ``notes`` (printed after the run's summary)."""
    path = Path(cfg.cache_dir) / "dense" / f"{dense_key(cfg, model_cfg)}.pt"
    if path.is_file():
        try:
            result = torch.load(path, weights_only=True)
        except Exception:  # a corrupt cache entry is recomputed, never trusted
            path.unlink(missing_ok=True)
        else:
            _status(cfg, f"read from the cache ({path})")
            return result
    _status(cfg, f"not cached; running the dense model (then cached in {path})")
    result = compute()
    try:
        write_atomic(path, lambda tmp: torch.save(result, tmp))
    except OSError as err:
        if notes is not None:
            notes.append(
                f"dense accuracy not cached: {cannot_write(err, path)} (set cache_dir=<a "
                "writable folder>)"
            )
    return result
