"""Every option of every config group composes, and what it describes can be built."""

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from evaluation.plans import PlanContext, build_plan
from tasder_plugin import profile_model
from tasder_plugin.data import EvalData
from tasder_plugin.hardware import hardware_from_dict
from tasder_plugin.models.adapters import ModelConfig

from .conftest import CONF

GROUPS = {group.name: sorted(p.stem for p in group.glob("*.yaml")) for group in CONF.iterdir()
          if group.is_dir()}  # fmt: skip
OPTIONS = [(group, option) for group, options in GROUPS.items() for option in options]


def _tiny_context(model, cfg, tmp_path) -> PlanContext:
    """Calibration data a search can run on: 64 random samples of an 8-feature classifier."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 8, generator=gen), torch.randint(0, 8, (64,), generator=gen)
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    hw = hardware_from_dict(OmegaConf.to_container(cfg.hw, resolve=True), "2of4")
    return PlanContext(hw, profile_model(model, x[:4]), EvalData("tiny", loader, loader),
                       "classification", 0, tmp_path)  # fmt: skip


def _check_experiment(option: str) -> None:
    """An experiment composes, and every swept group option exists."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("config", overrides=[f"+experiment={option}"], return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    params = cfg.hydra.sweeper.params
    assert params, f"experiment {option} sweeps nothing"
    for group, values in params.items():
        if group in GROUPS:
            assert set(str(values).split(",")) <= set(GROUPS[group]), (group, values)


def test_every_group_has_options():
    assert {"model", "data", "hw", "tasd", "trainer", "logger"} <= set(GROUPS)


@pytest.mark.parametrize("group, option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_builds(group, option, make_cfg, tmp_path):
    if group == "experiment":
        return _check_experiment(option)
    extra = ["tasd.path=plan.yaml"] if (group, option) == ("tasd", "plan") else []
    cfg = make_cfg(f"{group}={option}", *extra)
    node = OmegaConf.to_container(cfg[group], resolve=True)
    if group == "hw":
        assert hardware_from_dict(node, option).name == option
    elif group == "model":
        size = node["input_size"]
        fields = {**node, "input_size": None if size is None else tuple(size)}
        assert ModelConfig(**fields).name == option
    elif group == "tasd" and option != "plan":
        model = torch.nn.Sequential(torch.nn.Linear(8, 8))
        assert len(build_plan(node, model, _tiny_context(model, cfg, tmp_path))) == 1
    elif group == "logger":
        from lightning.pytorch.loggers import Logger

        from evaluation.loggers import LoggerUnavailableError, build_logger, missing_package

        if missing_package(node["_target_"]):  # an optional package: the error names the extra
            with pytest.raises(LoggerUnavailableError, match=r"tasder\[loggers\]"):
                build_logger(cfg)
        else:
            assert isinstance(build_logger(cfg), Logger)
    elif group == "trainer":
        assert node["accelerator"] in {"cpu", "gpu"}
    elif group == "data":
        from tasder_plugin.data import data_kinds

        assert node["kind"] in data_kinds()


SCHEMA_GROUPS = ("model", "data", "hw", "tasd", "trainer", "logger")
TYPED = [(g, o) for g, o in OPTIONS if g in SCHEMA_GROUPS]


@pytest.mark.parametrize("group, option", TYPED, ids=[f"{g}={o}" for g, o in TYPED])
def test_option_extends_its_schema(group, option, make_cfg):
    """Each option's YAML names its schema, so Hydra type-checks it at compose time."""
    cfg = make_cfg(f"{group}={option}")
    assert OmegaConf.get_type(cfg).__name__ == "RunSchemaSchema"
    assert OmegaConf.get_type(cfg[group]).__name__.endswith("Schema"), (group, option)
    with pytest.raises(Exception, match="not in"):
        cfg[group].not_an_option = 1  # closed: a typo cannot slip in


@pytest.mark.parametrize("option", GROUPS["tasd"])
def test_each_default_is_declared_once(option, make_cfg):
    """A tasd YAML holds no value its schema already declares (one place per default)."""
    from evaluation.schemas import _schemas

    extra = ["tasd.path=plan.yaml"] if option == "plan" else []
    kind = make_cfg(f"tasd={option}", *extra).tasd.kind
    defaults = OmegaConf.structured(_schemas()[f"tasd_{kind}"])
    own = OmegaConf.load(CONF / "tasd" / f"{option}.yaml")
    for key in set(own) - {"kind", "defaults"}:
        assert own[key] != defaults[key], f"tasd/{option}.yaml repeats the default of {key}"
