"""The SearchPathPlugin lets an unrelated Hydra app use TASDER's config groups."""

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.plugins import Plugins
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf

from tasder_plugin.hardware import hardware_from_dict


def test_plugin_is_discovered():
    found = Plugins.instance().discover(SearchPathPlugin)
    names = {f"{p.__module__}.{p.__qualname__}" for p in found}
    assert "hydra_plugins.tasder.search_path.TASDERSearchPathPlugin" in names


def test_foreign_app_composes_tasder_groups(tmp_path):
    (tmp_path / "app.yaml").write_text("defaults:\n  - hw: vegeta\n  - _self_\nlr: 0.1\n")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(tmp_path), version_base="1.3"):
            cfg = compose("app", overrides=["hw=flex8", "+tasd=uniform"])
    finally:
        GlobalHydra.instance().clear()
    assert cfg.lr == 0.1 and cfg.tasd.weights == "2:4"
    spec = hardware_from_dict(OmegaConf.to_container(cfg.hw, resolve=True), "flex8")
    assert spec.name == "flex8"
