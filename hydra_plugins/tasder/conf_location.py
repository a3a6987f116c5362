"""Where TASDER's Hydra config tree lives: ``conf/`` in a checkout, a packaged copy in a wheel.

A source checkout (and an editable install) reads the repository's ``conf/`` directly, so edits
take effect at once; ``pip install .`` ships a copy as ``tasder_plugin/_conf`` (setup.py's
build_py). This module imports nothing heavy, so Hydra's plugin scan, the CLI entry point and the
hardware loader can all use it without importing torch.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["conf_dir"]

_MARKER = "config.yaml"


def conf_dir() -> Path:
    """The config tree's directory (the source checkout's when both exist)."""
    source = Path(__file__).resolve().parents[2] / "conf"
    if (source / _MARKER).is_file():
        return source
    spec = importlib.util.find_spec("tasder_plugin")  # locates the package without importing it
    if spec is not None and spec.submodule_search_locations:
        packaged = Path(next(iter(spec.submodule_search_locations))) / "_conf"
        if (packaged / _MARKER).is_file():
            return packaged
    raise FileNotFoundError(
        f"TASDER's config tree is missing (looked for {source} and tasder_plugin/_conf): "
        "reinstall with `pip install .` or `pip install -e .` from a checkout"
    )
