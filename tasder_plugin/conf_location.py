"""Where TASDER's Hydra config tree lives: ``conf/`` in a checkout, a packaged copy in a wheel.

A source checkout (and an editable install) reads the repository's ``conf/`` directly, so edits
take effect at once; ``pip install .`` ships a copy as ``tasder_plugin/_conf`` (setup.py's
build_py). The library owns this lookup (the hardware loader reads ``conf/hw``); the Hydra plugin
and the CLI import it from here. It imports only the standard library, and
``tasder_plugin/__init__`` imports its API lazily, so Hydra's plugin scan loads it without torch.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["conf_dir"]

_MARKER = "config.yaml"


def conf_dir() -> Path:
    """The config tree's directory (the source checkout's when both exist)."""
    package = Path(__file__).resolve().parent
    source = package.parent / "conf"
    if (source / _MARKER).is_file():
        return source
    packaged = package / "_conf"
    if (packaged / _MARKER).is_file():
        return packaged
    raise FileNotFoundError(
        f"TASDER's config tree is missing (looked for {source} and {packaged}): "
        "reinstall with `pip install .` or `pip install -e .` from a checkout"
    )
