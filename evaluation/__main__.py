"""``python -m evaluation`` / ``tasder-eval``: the Hydra entry point, a thin shell over
``evaluation.run.evaluate``.

Mistakes a user can fix (:class:`~tasder_plugin.errors.TasderUserError`: a bad option, missing
data or weights, an offline hub) print one line and exit with status 2, at compose time where
the command line already shows them; anything else is a bug and shows its traceback
(``debug=true`` shows it for both). Inside a multirun sweep a failing job records an error row
in the leaderboard, logs its traceback and lets the sweep go on; the sweep then exits 1.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from tasder_plugin.conf_location import conf_dir
from tasder_plugin.errors import one_line

from .errors import user_error_message
from .schemas import register_schemas

log = logging.getLogger(__name__)
_FAILED_JOBS = "TASDER_FAILED_JOBS"  # a file each failing sweep job appends one line to


def _in_sweep() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _record_failure(cfg: DictConfig, message: str) -> None:
    from .leaderboard_db import LeaderboardError, record_error

    try:
        record_error(cfg.leaderboard_db, cfg, message)  # the same key a success would get
    except LeaderboardError as err:
        log.warning("leaderboard not updated: %s", err)


def _sweep_job_failed(cfg: DictConfig, err: Exception) -> None:
    message = user_error_message(err) or f"{type(err).__name__}: {one_line(err)}"
    log.error("job failed: %s\n%s", message, traceback.format_exc())
    if cfg.get("leaderboard_db"):
        _record_failure(cfg, message)
    print(f"error: {message}", file=sys.stderr)
    if failed := os.environ.get(_FAILED_JOBS):
        job = HydraConfig.get().job.num
        with open(failed, "a") as out:  # one short line per job: appends do not interleave
            out.write(f"job {job}: {message}\n")


@hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> None:
    from .run import evaluate

    try:
        evaluate(cfg)
    except Exception as err:
        if _in_sweep():  # one failing job must not take the sweep down (timm's _try_run idea)
            _sweep_job_failed(cfg, err)
            return
        message = user_error_message(err)
        if message is None or cfg.get("debug"):
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    """Check the command line, run it with Hydra, and exit 1 if any job of a sweep failed."""
    from .preflight import check_command_line

    register_schemas()
    if message := check_command_line(sys.argv[1:]):
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
    with tempfile.TemporaryDirectory(prefix="tasder-sweep-") as scratch:
        failed = Path(scratch) / "failed_jobs.txt"
        os.environ[_FAILED_JOBS] = str(failed)
        _hydra_main()
        lines = failed.read_text().splitlines() if failed.is_file() else []
    if lines:
        print(
            f"error: {len(lines)} job(s) of the sweep failed: {'; '.join(lines)}", file=sys.stderr
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
