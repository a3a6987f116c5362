"""``hydra_schema``: the OmegaConf structured-config schema of a typed config dataclass.

OmegaConf types fields as primitives, lists, dicts and nested dataclasses; the typed
dataclasses hold parsed values (``NMPattern``, tuples). The schema is derived field by field
(parsed values -> str, tuples -> lists) so Hydra rejects typos and wrong types at compose time
while the field list and the defaults stay declared once, on the typed class.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from functools import cache
from typing import Any, Optional

from .coerce import is_parsed_type

__all__ = ["hydra_schema"]


@cache
def hydra_schema(cls: type, exclude: tuple[str, ...] = ()) -> type:
    """A mutable dataclass with ``cls``'s fields (minus ``exclude``) in OmegaConf's types.

    It is importable as an attribute of this module whose name encodes ``cls`` and ``exclude``,
    so configs typed by it pickle (Hydra's joblib launcher ships its ConfigStore to workers)."""
    hints = typing.get_type_hints(cls)
    fields = []
    for f in dataclasses.fields(cls):
        if f.name in exclude or not f.init:
            continue
        fields.append((f.name, _schema_type(hints[f.name]), _schema_default(f)))
    name = _attribute(cls, exclude)
    schema = dataclasses.make_dataclass(f"{cls.__name__}Schema", fields)
    schema.__module__, schema.__qualname__ = __name__, name
    globals()[name] = schema
    return schema


_MODULE, _CLASS, _WITHOUT = "_M_", "_C_", "_X_"


def _attribute(cls: type, exclude: tuple[str, ...]) -> str:
    dotted = cls.__module__.replace(".", "_D_")
    return f"{_MODULE}{dotted}{_CLASS}{cls.__qualname__}" + "".join(_WITHOUT + f for f in exclude)


def __getattr__(name: str):
    """Re-derive a schema in a fresh process (unpickling) from the name :func:`_attribute`
    gave it."""
    if not name.startswith(_MODULE) or _CLASS not in name:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    dotted, _, rest = name[len(_MODULE) :].partition(_CLASS)
    qualname, *exclude = rest.split(_WITHOUT)
    source = getattr(importlib.import_module(dotted.replace("_D_", ".")), qualname)
    return hydra_schema(source, tuple(exclude))


def _schema_type(hint):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(options) != 1:
            return Any
        return Optional[_schema_type(options[0])]  # noqa: UP045  (OmegaConf reads Optional)
    if origin in (tuple, list):
        args = typing.get_args(hint)
        return list[_schema_type(args[0])] if args else list
    if origin is dict or hint is dict:
        return dict[str, Any]
    if is_parsed_type(hint):
        return str
    if dataclasses.is_dataclass(hint):
        return hydra_schema(hint)
    if hint in (bool, int, float, str):
        return hint
    return Any


def _schema_default(f: dataclasses.Field):
    if f.default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=lambda: _plain(f.default_factory()))
    if f.default is dataclasses.MISSING:
        return dataclasses.field(default="???")  # OmegaConf's MISSING: required
    value = _plain(f.default)
    if isinstance(value, (list, dict)):
        return dataclasses.field(default_factory=lambda: _plain(f.default))
    return dataclasses.field(default=value)


def _plain(value):
    if is_parsed_type(type(value)):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        schema = hydra_schema(type(value))
        return schema(
            **{f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(schema)}
        )
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
