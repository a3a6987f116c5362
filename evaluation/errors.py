"""Which failures are the user's to fix, and the one line that says how."""

from __future__ import annotations

from tasder_plugin.errors import TasderUserError, one_line


def user_error_message(err: BaseException) -> str | None:
    """One line for a :class:`TasderUserError` (a mistake the user can fix), else None: any
    other exception is a bug and keeps its traceback."""
    return one_line(err) if isinstance(err, TasderUserError) else None
