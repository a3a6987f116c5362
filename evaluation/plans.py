"""The ``tasd`` config group: one registered builder per ``kind`` turns the config into a plan."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from tasder_plugin import ModelPlan

__all__ = ["build_plan", "register_plan_kind"]

_KINDS: dict[str, Callable[[dict, nn.Module], ModelPlan]] = {}


def register_plan_kind(kind: str):
    def decorate(fn):
        _KINDS[kind] = fn
        return fn

    return decorate


def build_plan(tasd_cfg: dict, model: nn.Module) -> ModelPlan:
    kind = tasd_cfg.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"unknown tasd kind {kind!r}; known: {sorted(_KINDS)}")
    return _KINDS[kind](tasd_cfg, model).validate(model)


@register_plan_kind("none")
def _none(cfg: dict, model: nn.Module) -> ModelPlan:
    return ModelPlan.dense(model)


@register_plan_kind("uniform")
def _uniform(cfg: dict, model: nn.Module) -> ModelPlan:
    return ModelPlan.uniform(
        model,
        weights=cfg.get("weights"),
        activations=cfg.get("activations"),
        targets=cfg.get("targets"),
        ignore=cfg.get("ignore") or (),
    )


@register_plan_kind("plan")
def _from_file(cfg: dict, model: nn.Module) -> ModelPlan:
    return ModelPlan.load(cfg["path"])
