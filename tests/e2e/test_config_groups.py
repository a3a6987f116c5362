"""Every option of every config group composes, and what it describes can be built."""

import pytest
from omegaconf import OmegaConf

from evaluation.plans import build_plan
from tasder_plugin.hardware import hardware_from_dict
from tasder_plugin.models.adapters import ModelConfig

from .conftest import CONF

GROUPS = {group.name: sorted(p.stem for p in group.glob("*.yaml")) for group in CONF.iterdir()
          if group.is_dir()}  # fmt: skip
OPTIONS = [(group, option) for group, options in GROUPS.items() for option in options]


def test_every_group_has_options():
    assert {"model", "data", "hw", "tasd", "trainer", "logger"} <= set(GROUPS)


@pytest.mark.parametrize("group, option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_builds(group, option, make_cfg):
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
        import torch

        model = torch.nn.Sequential(torch.nn.Linear(8, 8))
        assert len(build_plan(node, model)) == 1
    elif group == "logger":
        from hydra.utils import instantiate

        assert instantiate(cfg.logger) is not None
    elif group == "trainer":
        assert node["accelerator"] in {"cpu", "gpu"}
    elif group == "data":
        assert node["kind"] in {"digits", "imagefolder", "sentences"}
