"""``Registry``: the named variants of one concept, each registered where it is defined.

A variant is a class with a ``name``; ``@registry.register`` keeps one instance of it, and
``registry.get(name)`` returns it or raises a one-line ValueError naming the valid choices (and
the closest one). Adding a variant is one new class in one file: no central list to edit.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, option: str):
        self.option = option  # the config field that names a variant, for error messages
        self._items: dict[str, T] = {}

    def register(self, cls: type) -> type:
        """Class decorator: register one instance of ``cls`` under ``cls.name``."""
        if cls.name in self._items:
            raise ValueError(f"{self.option}: {cls.name!r} is registered twice")
        self._items[cls.name] = cls()
        return cls

    def get(self, name: str) -> T:
        if name not in self._items:
            close = difflib.get_close_matches(str(name), list(self._items), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{self.option} must be one of {self.names()}, got {name!r}{hint}")
        return self._items[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
