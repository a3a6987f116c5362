"""``python -m evaluation``: the Hydra entry point, a thin shell over ``evaluation.run.evaluate``.

Errors a user can fix (bad option, missing data or weights, offline hub) print one line and exit
with status 2; ``debug=true`` shows the full traceback. Inside a multirun sweep a failing job
records an error row in the leaderboard, logs its traceback and lets the sweep go on.
"""

import logging
import sys
import traceback

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from hydra_plugins.tasder.conf_location import conf_dir

from .errors import user_error_message

log = logging.getLogger(__name__)


def _in_sweep() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _record_failure(cfg: DictConfig, message: str) -> None:
    from .leaderboard_db import LeaderboardError, record_error

    try:
        record_error(cfg.leaderboard_db, cfg, message)  # the same key a success would get
    except LeaderboardError as err:
        log.warning("leaderboard not updated: %s", err)


@hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from .run import evaluate

    try:
        evaluate(cfg)
    except Exception as err:
        message = user_error_message(err)
        if _in_sweep():  # one failing job must not take the sweep down (timm's _try_run idea)
            message = message or f"{type(err).__name__}: {' '.join(str(err).split())}"
            log.error("job failed: %s\n%s", message, traceback.format_exc())
            if cfg.get("leaderboard_db"):
                _record_failure(cfg, message)
            print(f"error: {message}", file=sys.stderr)
            return
        if message is None or cfg.get("debug"):
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
