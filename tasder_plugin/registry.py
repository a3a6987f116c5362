"""``Registry``: the named variants of one concept, each registered where it is defined.

A variant is a class with a ``name`` (``@registry.register`` keeps one instance of it) or any
object registered under a name (``@registry.entry("greedy")``); ``registry.get(name)`` returns it
or raises a one-line :class:`ConfigError` naming the valid choices and the closest one.
Adding a variant is one new class (or function) in one file: no central list to edit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from .config.coerce import suggest
from .errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, option: str):
        self.option = option  # the config field that names a variant, for error messages
        self._items: dict[str, T] = {}

    def register(self, cls: type) -> type:
        """Class decorator: register one instance of ``cls`` under ``cls.name``."""
        self.add(cls.name, cls())
        return cls

    def entry(self, name: str):
        """Decorator registering the decorated object itself (a function, an instance)."""

        def decorate(item):
            self.add(name, item)
            return item

        return decorate

    def add(self, name: str, item: T) -> None:
        if name in self._items:
            raise ValueError(f"{self.option}: {name!r} is registered twice")
        self._items[name] = item

    def get(self, name: str) -> T:
        if name not in self._items:
            raise ConfigError(
                f"{self.option} must be one of {', '.join(self.names())}, got {name!r}"
                f"{suggest(name, self._items)}"
            )
        return self._items[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
