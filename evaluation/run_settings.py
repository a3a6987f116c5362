"""The edge: a composed Hydra config -> :class:`RunSettings`, every group typed and checked once.

Past this point the run passes frozen dataclasses (``ModelConfig``, a data kind's config,
``HardwareSpec``, a ``tasd`` kind's config, ``TrainerSettings``), never config strings. Every
mistake is a one-line :class:`~tasder_plugin.errors.ConfigError` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

from tasder_plugin.config import from_plain
from tasder_plugin.data import DataConfig, parse_data
from tasder_plugin.errors import ConfigError
from tasder_plugin.hardware import hardware_from_dict
from tasder_plugin.hardware.spec import HardwareSpec
from tasder_plugin.models.adapters import ModelConfig

from .plans import parse_tasd
from .settings import RunSchema, TrainerSettings

__all__ = ["RunSettings", "load_settings", "plain"]

_GROUPS = ("model", "data", "hw", "tasd", "trainer", "logger")
_PATHS = ("output_dir", "cache_dir", "leaderboard_db", "hw_name")


@dataclass(frozen=True)
class RunSettings:
    top: RunSchema  # mode, seed, strict, cost, debug and the resolved paths
    model: ModelConfig
    data: DataConfig
    hw: HardwareSpec
    tasd: object  # the tasd kind's frozen config (evaluation.plans)
    trainer: TrainerSettings


def plain(cfg: DictConfig, key: str):
    """``cfg[key]`` resolved to plain Python; a missing value or a broken interpolation is a
    one-line error naming the key."""
    try:
        node = cfg[key]
        if not OmegaConf.is_config(node):
            return node
        return OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        full_key = getattr(err, "full_key", None) or key
        raise ConfigError(
            f"missing value for {full_key}: set {full_key}=... on the command line"
        ) from None
    except InterpolationResolutionError as err:
        first = str(err).splitlines()[0]
        raise ConfigError(f"cannot resolve {getattr(err, 'full_key', key)}: {first}") from None


def load_settings(cfg: DictConfig, hw_name: str | None = None) -> RunSettings:
    """Check and type every group of ``cfg``. ``hw_name``: the hardware's name when ``cfg``
    was composed outside a Hydra run (where ``hw_name`` and the paths do not resolve)."""
    outside_run = hw_name is not None
    keys = [k for k in cfg if k not in _GROUPS and k != "hydra"]
    if outside_run:
        keys = [k for k in keys if k not in _PATHS]
    top = from_plain(RunSchema, {k: plain(cfg, k) for k in keys})
    name = hw_name if outside_run else str(top.hw_name)
    return RunSettings(
        top=top,
        model=from_plain(ModelConfig, plain(cfg, "model"), "model."),
        data=parse_data(plain(cfg, "data")),
        hw=hardware_from_dict(plain(cfg, "hw"), name, "hw."),
        tasd=parse_tasd(plain(cfg, "tasd")),
        trainer=from_plain(TrainerSettings, plain(cfg, "trainer"), "trainer."),
    )
