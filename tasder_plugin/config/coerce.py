"""``from_plain``: a mapping of plain values -> a (nested) frozen dataclass, checked field by field.

Supported field types: bool, int, float, str, value types with a ``parse`` classmethod
(``NMPattern``, ``TASDSeries``, ``Task``: parsed from their strings), ``X | None``,
``tuple[X, ...]``, ``list[X]``, ``dict``, ``Any`` and nested
dataclasses. Value checks live in each dataclass's ``__post_init__`` (:func:`check`); their
:class:`FieldError` gets the dotted path of the node prefixed here.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any

from ..errors import ConfigError

__all__ = ["FieldError", "check", "from_plain", "replace_options", "suggest"]


class FieldError(ConfigError):
    """A value check of one field failed; ``field`` is its name inside its dataclass."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field} {message}")
        self.field, self.message = field, message


def check(ok: bool, field: str, message: str) -> None:
    """In ``__post_init__``: ``check(0 <= self.x < 1, "x", f"must be in [0, 1), got {x}")``."""
    if not ok:
        raise FieldError(field, message)


def suggest(name: str, valid) -> str:
    """``"; did you mean 'x'?"`` for the closest valid name, else ``""``."""
    close = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def from_plain(cls: type, data: Any, where: str = ""):
    """``cls(**data)`` with every field converted to its declared type; ``where`` is the dotted
    path of ``data`` (``"tasd."``) used in error messages."""
    if dataclasses.is_dataclass(data) and isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{where.rstrip('.') or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    _reject_unknown(data, list(fields), lambda key: f"key {where}{key}")
    missing = [n for n, f in fields.items() if n not in data and _required(f)]
    if missing:
        raise ConfigError(f"missing key {where}{missing[0]} (set {where}{missing[0]}=...)")
    kwargs = {key: _convert(hints[key], value, f"{where}{key}") for key, value in data.items()}
    try:
        return cls(**kwargs)
    except FieldError as err:
        raise ConfigError(f"{where}{err.field} {err.message}") from None
    except ConfigError as err:
        raise ConfigError(f"{where.rstrip('.')}: {err}" if where else str(err)) from None


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _convert(hint, value, where: str):
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _convert(options[0] if len(options) == 1 else Any, value, where)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = typing.get_args(hint)[0] if typing.get_args(hint) else Any
        items = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if is_parsed_type(hint):
        try:
            return hint.parse(value if isinstance(value, hint) else str(value))
        except ValueError as err:
            raise ConfigError(f"{where}: {err}") from None
    if dataclasses.is_dataclass(hint):
        return from_plain(hint, value, f"{where}.")
    return _scalar(hint, value, where)


def is_parsed_type(hint) -> bool:
    """A value type written as a string in configs: it has ``parse(text)`` (``NMPattern``,
    ``TASDSeries``, ``Task``) and prints back as that string."""
    return isinstance(hint, type) and callable(getattr(hint, "parse", None))


# scalar type -> (what the error says is expected, the test a value passes)
_SCALARS = {
    bool: ("true/false", lambda v: isinstance(v, bool)),
    int: ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    str: ("a string", lambda v: isinstance(v, str)),
}


def _scalar(hint, value, where: str):
    if hint is float and isinstance(value, str):
        try:
            value = float(value)  # YAML 1.1 reads 1e-12 (no dot) as a string
        except ValueError:
            pass
    if hint not in _SCALARS:
        raise TypeError(f"{where}: unsupported field type {hint!r}")  # a schema bug, not input
    expected, ok = _SCALARS[hint]
    if not ok(value):
        raise ConfigError(f"{where}: expected {expected}, got {value!r}")
    return float(value) if hint is float else value


def replace_options(options, overrides: dict):
    """``dataclasses.replace(options, **overrides)``; an unknown name is a one-line error."""
    if not overrides:
        return options
    _reject_unknown(
        overrides, [f.name for f in dataclasses.fields(options)], lambda k: f"option {k!r}"
    )
    return dataclasses.replace(options, **overrides)


def _reject_unknown(keys, valid: list[str], name) -> None:
    """The first of ``keys`` not in ``valid``, as one line with the closest valid name."""
    for key in keys:
        if key not in valid:
            raise ConfigError(
                f"unknown {name(key)}{suggest(key, valid)} (valid: {', '.join(valid)})"
            )
