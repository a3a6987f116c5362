"""Which failures are the user's to fix, and the one line that says how."""

from __future__ import annotations

from tasder_plugin.errors import TasderUserError


def user_error_message(err: BaseException) -> str | None:
    """One line for a :class:`TasderUserError` (a mistake the user can fix), else None: any
    other exception is a bug and keeps its traceback."""
    if isinstance(err, TasderUserError):
        return " ".join(str(err).split())
    return None
