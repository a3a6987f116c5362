"""``model_config(name)``: a TASDER model config (``conf/model/<name>.yaml``) outside Hydra, for
the callers that take a model by its harness name (the lm-eval model type, benchmarks)."""

from __future__ import annotations

from ..conf_location import conf_dir
from ..config import from_plain, suggest
from ..errors import ConfigError
from .adapters import ModelConfig

__all__ = ["model_config"]


def model_config(name: str, where: str = "model=") -> ModelConfig:
    """The ``model`` node of ``conf/model/<name>.yaml`` as a checked :class:`ModelConfig`
    (``where``: how the caller's users spell the option, for the message)."""
    from omegaconf import OmegaConf

    folder = conf_dir() / "model"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(f"{where}{name} is not a TASDER model config{suggest(name, names)} "
                          f"(one of conf/model/*.yaml)")  # fmt: skip
    node = OmegaConf.to_container(OmegaConf.load(path).model, resolve=True)
    return from_plain(ModelConfig, node, "model.")
