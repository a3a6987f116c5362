"""``tasder-lm-eval`` / ``python -m tasder_plugin.lmeval``: lm-eval's command line, unchanged,
with ``--model tasder`` registered; after lm-eval's table, the hardware cost of each TASDER model
it evaluated. A mistake TASDER can name (a bad pattern, a missing plan file, an offline hub)
prints one line and exits with status 2."""

from __future__ import annotations

import sys

from ..errors import TasderUserError, one_line
from . import register


def main() -> None:
    try:
        register()
        from lm_eval.__main__ import cli_evaluate

        from .model import cost_summaries

        cli_evaluate()
    except TasderUserError as err:
        print(f"error: {one_line(err)}", file=sys.stderr)
        sys.exit(2)
    for summary in cost_summaries():
        print(summary)


if __name__ == "__main__":
    main()
