"""``python -m evaluation``: the Hydra entry point, a thin shell over ``evaluation.run.evaluate``.

Errors a user can fix (bad option, missing data or weights, offline hub) print one line and exit
with status 2; ``debug=true`` shows the full traceback.
"""

import sys

import hydra
from omegaconf import DictConfig

from .errors import user_error_message


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from .run import evaluate

    try:
        evaluate(cfg)
    except Exception as err:
        message = user_error_message(err)
        if message is None or cfg.get("debug"):
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
