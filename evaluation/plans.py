"""The ``tasd`` config group: one registered builder per ``kind`` turns the config into a plan.

Builders get the model and a :class:`PlanContext` (hardware, profile, calibration data...), so a
kind that searches needs no special case in the run; what it wants recorded goes in
``context.details``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from tasder_plugin import ModelPlan
from tasder_plugin.hardware.spec import HardwareSpec

__all__ = ["PlanContext", "build_plan", "register_plan_kind"]


@dataclass
class PlanContext:
    hw: HardwareSpec
    profile: object  # the ModelProfile the cost is computed on
    data: object | None  # EvalData (calib + eval loaders), None in cost-only runs
    task: str
    seed: int
    output_dir: Path
    progress: bool = False
    details: dict = field(default_factory=dict)  # what the builder wants in results.json


_KINDS: dict[str, Callable[[dict, nn.Module, PlanContext], ModelPlan]] = {}


def register_plan_kind(kind: str):
    def decorate(fn):
        _KINDS[kind] = fn
        return fn

    return decorate


def build_plan(tasd_cfg: dict, model: nn.Module, context: PlanContext) -> ModelPlan:
    kind = tasd_cfg.get("kind")
    if kind not in _KINDS:
        raise ValueError(f"unknown tasd kind {kind!r}; known: {sorted(_KINDS)}")
    return _KINDS[kind](tasd_cfg, model, context).validate(model)


@register_plan_kind("none")
def _none(cfg: dict, model: nn.Module, context: PlanContext) -> ModelPlan:
    return ModelPlan.dense(model)


@register_plan_kind("uniform")
def _uniform(cfg: dict, model: nn.Module, context: PlanContext) -> ModelPlan:
    return ModelPlan.uniform(
        model,
        weights=cfg.get("weights"),
        activations=cfg.get("activations"),
        targets=cfg.get("targets"),
        ignore=cfg.get("ignore") or (),
    )


@register_plan_kind("plan")
def _from_file(cfg: dict, model: nn.Module, context: PlanContext) -> ModelPlan:
    return ModelPlan.load(cfg["path"])


_SEARCH_OPTIONS = ("objective", "max_terms", "max_candidates", "holdout", "sensitivity_samples",
                   "refine_trials", "confidence", "targets", "ignore")  # fmt: skip


@register_plan_kind("search")
def _search(cfg: dict, model: nn.Module, context: PlanContext) -> ModelPlan:
    """TASDER on the calibration split; the plan and the search log go to the run directory."""
    from tasder_plugin.search import CalibrationError, run_search

    if context.data is None or context.data.calib is None:
        raise CalibrationError(
            "a TASDER search needs calibration data: use mode=eval with a dataset that has a "
            "calibration split (e.g. data=digits), or a fixed setting (tasd=uniform, tasd=auto, "
            "tasd=plan tasd.path=<a saved plan>)"
        )
    options = {k: cfg[k] for k in _SEARCH_OPTIONS if cfg.get(k) is not None}
    found = run_search(
        model, context.data.calib, context.hw, max_drop=float(cfg.get("max_drop", 0.01)),
        strategy=str(cfg.get("strategy", "tasder")), task=context.task, profile=context.profile,
        seed=context.seed, progress=context.progress, **options,
    )  # fmt: skip
    plan_path = found.plan.save(context.output_dir / "plan.yaml")
    log_path = found.save_log(context.output_dir / "search_log.json")
    context.details["search"] = {**found.summary, "plan": str(plan_path), "log": str(log_path)}
    return found.plan


@register_plan_kind("auto")
def _auto(cfg: dict, model: nn.Module, context: PlanContext) -> ModelPlan:
    """Per layer, the shortest TASD-W series keeping ``min_kept_energy`` of the weight."""
    from tasder_plugin.search.auto import auto_plan

    plan, choices = auto_plan(
        model, context.hw, min_kept_energy=float(cfg.get("min_kept_energy", 0.9999)),
        max_terms=int(cfg.get("max_terms", 2)), targets=cfg.get("targets"),
        ignore=cfg.get("ignore") or (),
    )  # fmt: skip
    context.details["auto"] = {
        c.fqn: {"series": str(c.series or "dense"), "kept_energy": c.kept_energy,
                "weight_density": c.weight_density}
        for c in choices
    }  # fmt: skip
    return plan
