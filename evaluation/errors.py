"""Which failures are the user's to fix, and the one line that says how."""

from __future__ import annotations

from omegaconf.errors import OmegaConfBaseException

from tasder_plugin.data.loaders import DataError
from tasder_plugin.models.adapters import ModelLoadError

_USER_ERRORS = (ValueError, FileNotFoundError, ModelLoadError, DataError, OmegaConfBaseException)


def user_error_message(err: BaseException) -> str | None:
    """A one-line message for errors caused by the configuration or the environment, else None."""
    if isinstance(err, OmegaConfBaseException):
        text = str(err).splitlines()[0]
        return f"{text} (set it on the command line, e.g. data.root=/path)"
    if isinstance(err, _USER_ERRORS):
        return " ".join(str(err).split())
    return None
