"""``load_hardware``: a preset name from ``conf/hw`` or a YAML path -> a validated HardwareSpec.

The YAML mirrors the dataclasses of :mod:`.spec` field for field; ``config.from_plain`` checks
it, so every error is one line naming the file and the key path (``array.dataflow``), and an
unknown key or preset name suggests the closest valid one. A ``defaults`` list (the Hydra schema
reference of the presets) is ignored.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from ..conf_location import conf_dir
from ..config import from_plain, suggest
from ..errors import ConfigError, one_line
from .spec import HardwareSpec

__all__ = ["load_hardware", "hardware_from_dict", "hardware_names", "HW_DIR"]


def _hw_dir() -> Path:
    try:
        return conf_dir() / "hw"
    except FileNotFoundError:  # a broken install: no presets, and load_hardware says so
        return Path(__file__).resolve().parents[2] / "conf" / "hw"


HW_DIR = _hw_dir()


def hardware_names() -> list[str]:
    """Preset names: the YAML files in ``conf/hw``."""
    return sorted(p.stem for p in HW_DIR.glob("*.yaml"))


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.parent != Path("."):
        if not path.is_file():
            raise ConfigError(f"hardware file {text!r} does not exist")
        return path
    names = hardware_names()
    if text not in names:
        raise ConfigError(
            f"unknown hardware {text!r}{suggest(text, names)} (valid: {', '.join(names)})"
        )
    return HW_DIR / f"{text}.yaml"


def load_hardware(name_or_path: str | Path | HardwareSpec) -> HardwareSpec:
    """A preset name (``"2of4"``) or a YAML path -> :class:`HardwareSpec` (cached per file)."""
    if isinstance(name_or_path, HardwareSpec):
        return name_or_path
    path = _resolve(name_or_path).resolve()
    return _load_file(str(path), path.stat().st_mtime_ns)


def hardware_from_dict(data: dict, name: str, where: str = "") -> HardwareSpec:
    """Validate an already-parsed spec (e.g. a composed Hydra ``hw`` node) named ``name``;
    ``where``: the node's dotted path for messages (``"hw."``)."""
    if not isinstance(data, dict):
        raise ConfigError(f"hardware {name!r}: expected a mapping of HardwareSpec fields")
    return _typed({"name": name, **data}, f"hardware {name!r}", where)


def _typed(data: dict, label: str, where: str = "") -> HardwareSpec:
    """``data`` checked into a HardwareSpec; an error says which spec (``label``) it is in."""
    try:
        return from_plain(HardwareSpec, data, where)
    except ConfigError as err:
        raise ConfigError(f"{label}: {err}") from None


@lru_cache(maxsize=64)
def _load_file(path: str, _mtime: int) -> HardwareSpec:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {one_line(err)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of HardwareSpec fields at the top level")
    data.pop("defaults", None)  # the Hydra defaults list: it names the schema, not a field
    data.setdefault("name", Path(path).stem)
    return _typed(data, path)
