"""``load_hardware``: a preset name from ``conf/hw`` or a YAML path -> a validated HardwareSpec.

The YAML mirrors the dataclasses of :mod:`.spec` field for field. Every error is one line that
names the file and the offending field path (``array.dataflow``), and an unknown field or preset
name suggests the closest valid ones.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from functools import lru_cache
from pathlib import Path

import yaml

from hydra_plugins.tasder.conf_location import conf_dir

from ..tasd.patterns import NMPattern
from .spec import Energy, HardwareSpec

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


def _hint(name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.parent != Path("."):
        if not path.is_file():
            raise ValueError(f"hardware file {text!r} does not exist")
        return path
    names = hardware_names()
    if text not in names:
        raise ValueError(
            f"unknown hardware {text!r}{_hint(text, names)} (valid: {', '.join(names)})"
        )
    return HW_DIR / f"{text}.yaml"


def load_hardware(name_or_path: str | Path | HardwareSpec) -> HardwareSpec:
    """A preset name (``"2of4"``) or a YAML path -> :class:`HardwareSpec` (cached per file)."""
    if isinstance(name_or_path, HardwareSpec):
        return name_or_path
    path = _resolve(name_or_path).resolve()
    return _load_file(str(path), path.stat().st_mtime_ns)


def hardware_from_dict(data: dict, name: str) -> HardwareSpec:
    """Validate an already-parsed spec (e.g. a composed Hydra ``hw`` node) named ``name``."""
    if not isinstance(data, dict):
        raise ValueError(f"hardware {name!r}: expected a mapping of HardwareSpec fields")
    data = {"name": name, **data}
    try:
        return _build(HardwareSpec, data, "")
    except (TypeError, ValueError) as err:
        raise ValueError(f"hardware {name!r}: {err}") from None


@lru_cache(maxsize=64)
def _load_file(path: str, _mtime: int) -> HardwareSpec:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of HardwareSpec fields at the top level")
    data.setdefault("name", Path(path).stem)
    try:
        return _build(HardwareSpec, data, "")
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None


def _build(cls, data, where: str):
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise ValueError(
                f"unknown field {where}{key!r} for {cls.__name__}{_hint(str(key), list(fields))}"
            )
    missing = [
        name
        for name, f in fields.items()
        if name not in data
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(f"missing field {where}{missing[0]} for {cls.__name__}")
    kwargs = {key: _convert(hints[key], value, f"{where}{key}") for key, value in data.items()}
    try:
        return cls(**kwargs)
    except ValueError as err:
        prefix = f"{where.rstrip('.')}: " if where else ""
        raise ValueError(f"{prefix}{err}") from None


def _convert(hint, value, where: str):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if value is None else _convert(options[0], value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        item = typing.get_args(hint)[0]
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is NMPattern:
        try:
            return NMPattern.parse(str(value))
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not an 'n:m' pattern") from None
    if hint is Energy and isinstance(value, dict):
        return _build(Energy, value, f"{where}.")
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{where}.")
    return _scalar(hint, value, where)


def _scalar(hint, value, where: str):
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):
            try:
                value = float(value)  # YAML 1.1 reads 1e-12 (no dot) as a string
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{where}: unsupported field type {hint!r}")  # pragma: no cover
