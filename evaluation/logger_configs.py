"""The ``logger`` group's schemas: one dataclass per Lightning logger a YAML may instantiate.

Each ``conf/logger/<name>.yaml`` names its ``_target_`` and extends the matching schema, so an
unknown or mistyped logger option fails at compose time like every other group's; the values
here are the defaults (paths under the run's output directory, offline where it matters).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LOGGER_SCHEMAS"]


@dataclass(frozen=True)
class CSVLoggerConfig:
    _target_: str = "lightning.pytorch.loggers.CSVLogger"
    save_dir: str = "${output_dir}"
    name: str = "lightning"


@dataclass(frozen=True)
class TensorBoardLoggerConfig:
    _target_: str = "lightning.pytorch.loggers.TensorBoardLogger"
    save_dir: str = "${output_dir}"
    name: str = "lightning"


@dataclass(frozen=True)
class WandbLoggerConfig:
    """Offline by default: files under the run's output dir, ``wandb sync`` uploads them later."""

    _target_: str = "lightning.pytorch.loggers.WandbLogger"
    save_dir: str = "${output_dir}"
    project: str = "tasder"
    name: str | None = None
    offline: bool = True
    log_model: bool = False


@dataclass(frozen=True)
class MLFlowLoggerConfig:
    """An SQLite tracking store under the run's output dir (MLflow 3's file store is in
    maintenance mode): ``mlflow ui --backend-store-uri sqlite:///<output_dir>/mlflow.db``."""

    _target_: str = "lightning.pytorch.loggers.MLFlowLogger"
    experiment_name: str = "tasder"
    tracking_uri: str = "sqlite:///${output_dir}/mlflow.db"


# the schema name a logger YAML extends (logger_<name>) -> its dataclass
LOGGER_SCHEMAS = {
    "csv": CSVLoggerConfig,
    "tensorboard": TensorBoardLoggerConfig,
    "wandb": WandbLoggerConfig,
    "mlflow": MLFlowLoggerConfig,
}
