"""The one base class for mistakes a user can fix (like Hydra's ``HydraException``).

The CLI turns exactly these into one line and exit status 2; anything else is a bug and keeps
its traceback. Subclasses also derive from the builtin a Python caller would expect
(``ConfigError`` is a ``ValueError``), so library callers can keep catching those.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InputError",
    "MissingFileError",
    "OutputError",
    "TasderUserError",
    "one_line",
]


class TasderUserError(Exception):
    """A problem with the configuration, the input or the environment; the message says how to
    fix it, in one line."""


class ConfigError(TasderUserError, ValueError):
    """An invalid option, name, pattern or file content."""


class InputError(TasderUserError, ValueError):
    """Input that cannot be processed as given (NaN or Inf weights, for example)."""


class OutputError(TasderUserError, OSError):
    """A result cannot be written where the configuration points (read-only, a file...)."""


class MissingFileError(TasderUserError, FileNotFoundError):
    """A file the configuration names does not exist."""


def one_line(message: BaseException | str) -> str:
    """An error's message on one line, as every command line tool of the project prints it."""
    return " ".join(str(message).split())
