"""Compose the real conf/ once per test (lightning-hydra-template style): CPU, tmp output."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from evaluation.schemas import register_schemas

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture
def make_cfg(tmp_path):
    """``make_cfg(*overrides)`` -> a composed config writing into tmp_path."""

    def make(*overrides):
        register_schemas()
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            cfg.output_dir = str(tmp_path / "run")
            cfg.cache_dir = str(tmp_path / "cache")
            cfg.leaderboard_db = str(tmp_path / "leaderboard.sqlite")
            cfg.trainer.enable_progress_bar = False
            del cfg.hydra
        return cfg

    yield make
    GlobalHydra.instance().clear()
