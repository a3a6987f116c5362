"""Dense accuracy per (model, weights, data): computed once, then read back, so sweeps over
hardware and TASD settings do not re-run the dense model. Entries hold metrics and per-sample
predictions (for agreement), are written atomically and read with ``weights_only=True``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import OmegaConf

from tasder_plugin.atomic_io import write_atomic

__all__ = ["dense_accuracy", "dense_key"]


def _file_digest(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    stat = Path(path).stat()
    return f"{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def dense_key(cfg, model_cfg) -> str:
    """Everything that changes the dense model's predictions, hashed."""
    from tasder_plugin.models.reference import REFERENCE_MODELS, checkpoint_path

    weights = _file_digest(model_cfg.checkpoint)
    if weights is None and model_cfg.source == "reference" and model_cfg.pretrained:
        if model_cfg.architecture in REFERENCE_MODELS:
            weights = _file_digest(str(checkpoint_path(model_cfg.architecture)))
    identity = {
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "data": OmegaConf.to_container(cfg.data, resolve=True),
        "weights": weights,
        "torch": torch.__version__,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def dense_accuracy(cfg, model_cfg, compute: Callable[[], dict]) -> dict:
    """Cached dense metrics (``val/*``) and ``predictions`` for this model and data."""
    path = Path(cfg.cache_dir) / "dense" / f"{dense_key(cfg, model_cfg)}.pt"
    if path.is_file():
        try:
            return torch.load(path, weights_only=True)
        except Exception:  # a corrupt cache entry is recomputed, never trusted
            path.unlink(missing_ok=True)
    result = compute()
    write_atomic(path, lambda tmp: torch.save(result, tmp))
    return result
