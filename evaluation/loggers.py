"""The Lightning logger a run asks for (``conf/logger/*.yaml``), built by Hydra's ``instantiate``.

TensorBoard, Weights & Biases and MLflow are optional (``pip install "tasder[loggers]"``). Their
absence is found before instantiation, so the user reads one line naming what to install instead
of Hydra's multi-line instantiation error around Lightning's ModuleNotFoundError.
"""

from __future__ import annotations

import importlib.util

from hydra.utils import instantiate
from omegaconf import DictConfig

from tasder_plugin.errors import ConfigError

__all__ = ["LoggerUnavailableError", "OPTIONAL_LOGGERS", "build_logger", "missing_package"]

# Lightning logger class -> (modules of which one must import, the distribution to install).
OPTIONAL_LOGGERS = {
    "TensorBoardLogger": (("tensorboard", "tensorboardX"), "tensorboard"),
    "WandbLogger": (("wandb",), "wandb"),
    "MLFlowLogger": (("mlflow",), "mlflow"),
}


class LoggerUnavailableError(ConfigError):
    """The configured logger needs a package this install lacks. A ValueError: the CLI reports
    it as a user error, in one line."""


def missing_package(target: str) -> str | None:
    """The distribution to install for logger class ``target`` (a dotted path), if missing."""
    modules, distribution = OPTIONAL_LOGGERS.get(target.rsplit(".", 1)[-1], ((), None))
    if modules and not any(importlib.util.find_spec(m) for m in modules):
        return distribution
    return None


def build_logger(cfg: DictConfig):
    """``cfg.logger`` instantiated, or False (no logger) when the run sets ``logger=null``."""
    node = cfg.get("logger")
    if not node:
        return False
    target = str(node.get("_target_", ""))
    distribution = missing_package(target)
    if distribution is not None:
        raise LoggerUnavailableError(
            f"{target.rsplit('.', 1)[-1]} needs the optional package {distribution!r}, which is "
            f'not installed: pip install "tasder[loggers]" (or pip install {distribution})'
        )
    return instantiate(node)
