"""The ``tasd`` config group: one frozen config dataclass per ``kind`` plus its handler.

A kind is a registered class with a ``name``, a ``config`` dataclass (what ``conf/tasd/*.yaml``
may hold: its Hydra schema is derived from it), ``build(config, model, context)`` and
``label(node)``: its short name in leaderboards (from a results record's plain ``tasd`` node).
Builders get the model and a :class:`PlanContext` (hardware, profile, calibration data...), so a
kind that searches needs no special case in the run; what it wants recorded goes in
``context.details``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from torch import nn

from tasder_plugin import ModelPlan
from tasder_plugin.config import check, from_plain
from tasder_plugin.errors import ConfigError
from tasder_plugin.hardware.spec import HardwareSpec
from tasder_plugin.nn.plan import check_targets
from tasder_plugin.registry import Registry
from tasder_plugin.search.auto import AutoOptions
from tasder_plugin.search.options import SearchOptions
from tasder_plugin.tasd import TASDSeries
from tasder_plugin.tasks import Task

__all__ = ["PLAN_KINDS", "PlanContext", "build_plan", "parse_tasd"]


@dataclass
class PlanContext:
    hw: HardwareSpec
    profile: object  # the ModelProfile the cost is computed on
    data: object | None  # EvalData (calib + eval loaders), None in cost-only runs
    task: Task
    seed: int
    output_dir: Path
    progress: bool = False
    details: dict = field(default_factory=dict)  # what the builder wants in results.json
    # fqn -> why the kinds that choose layers (uniform, auto, search) leave it dense; a plan
    # file is applied as written
    keep_dense: dict[str, str] = field(default_factory=dict)

    def ignored(self, ignore: tuple[str, ...], targets=None) -> tuple[str, ...]:
        """``ignore`` plus the layers kept dense (recorded with their reasons), but for those
        ``targets`` names exactly: asked for by name, a layer is decomposed."""
        kept = {k: v for k, v in self.keep_dense.items() if k not in (targets or ())}
        if kept:
            self.details["kept_dense"] = kept
        return (*ignore, *kept)


PLAN_KINDS: Registry = Registry("tasd.kind")


def parse_tasd(node: dict, where: str = "tasd.") -> object:
    """The ``tasd`` node -> its kind's frozen config (unknown keys and bad values fail here)."""
    if not isinstance(node, dict) or "kind" not in node:
        raise ConfigError(f"{where}kind is missing: choose tasd=uniform, tasd=tasder, ...")
    kind = PLAN_KINDS.get(node["kind"])
    return from_plain(kind.config, node, where)


def build_plan(config, model: nn.Module, context: PlanContext) -> ModelPlan:
    """The plan ``config`` (a kind's config, or a plain ``tasd`` node) asks for, checked against
    the model's layers."""
    if isinstance(config, dict):
        config = parse_tasd(config)
    return PLAN_KINDS.get(config.kind).build(config, model, context).validate(model)


def _check_kind(config) -> None:
    """A kind's config holds its own kind (the field's default), never another's."""
    own = type(config).__dataclass_fields__["kind"].default
    check(config.kind == own, "kind", f"must be {own!r} for this schema, got {config.kind!r}")


@dataclass(frozen=True)
class NoTASD:
    """No decomposition: the dense model (its cost on the chosen hardware still reported)."""

    kind: str = "none"
    __post_init__ = _check_kind


@dataclass(frozen=True)
class UniformTASD:
    """The same series on every targeted GEMM layer (all by default) but the ignored ones."""

    kind: str = "uniform"
    weights: TASDSeries | None = TASDSeries.parse("2:4")
    activations: TASDSeries | None = None
    targets: tuple[str, ...] | None = None  # fully-qualified names or 're:' regexes
    ignore: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_kind(self)
        check_targets(self.targets, self.ignore)


@dataclass(frozen=True)
class PlanFileTASD:
    """A per-layer plan saved by ``ModelPlan.save`` (YAML or JSON)."""

    path: str  # required: tasd.path=/path/to/plan.yaml
    kind: str = "plan"

    def __post_init__(self) -> None:
        _check_kind(self)
        check(Path(self.path).expanduser().is_file(), "path",
              f"names no file: {self.path} (a plan saved by ModelPlan.save or a search's "
              "plan.yaml)")  # fmt: skip


@dataclass(frozen=True)
class AutoTASD(AutoOptions):
    """TASD-W without data or search: per layer, the shortest series keeping
    ``min_kept_energy`` of the weight's energy."""

    kind: str = "auto"

    def __post_init__(self) -> None:
        _check_kind(self)
        super().__post_init__()


@dataclass(frozen=True)
class SearchTASD(SearchOptions):
    """TASDER: the cheapest per-layer plan within ``max_drop`` on the calibration split."""

    kind: str = "search"

    def __post_init__(self) -> None:
        _check_kind(self)
        super().__post_init__()


@PLAN_KINDS.register
class _NoneKind:
    name, config = "none", NoTASD

    def build(self, cfg: NoTASD, model: nn.Module, context: PlanContext) -> ModelPlan:
        return ModelPlan.dense(model)

    def label(self, node: dict) -> str:
        return "none"


@PLAN_KINDS.register
class _UniformKind:
    name, config = "uniform", UniformTASD

    def build(self, cfg: UniformTASD, model: nn.Module, context: PlanContext) -> ModelPlan:
        ignore = context.ignored(cfg.ignore, cfg.targets)
        return ModelPlan.uniform(model, cfg.weights, cfg.activations, cfg.targets, ignore)

    def label(self, node: dict) -> str:
        label = f"uniform W={node.get('weights') or '-'} A={node.get('activations') or '-'}"
        for key in ("targets", "ignore"):  # how many selectors, not the selectors themselves
            if value := node.get(key):
                label += f" {key}={len(value) if isinstance(value, list) else value}"
        return label


@PLAN_KINDS.register
class _PlanFileKind:
    name, config = "plan", PlanFileTASD

    def build(self, cfg: PlanFileTASD, model: nn.Module, context: PlanContext) -> ModelPlan:
        return ModelPlan.load(Path(cfg.path).expanduser())

    def label(self, node: dict) -> str:
        return f"plan {Path(str(node.get('path'))).name}"


@PLAN_KINDS.register
class _SearchKind:
    name, config = "search", SearchTASD

    def build(self, cfg: SearchTASD, model: nn.Module, context: PlanContext) -> ModelPlan:
        """The plan and the search log go to the run directory."""
        from tasder_plugin.search import CalibrationError, run_search
        from tasder_plugin.search.scoring import get_scorer

        get_scorer(context.task)  # a task no search can score: say so before asking for data

        if context.data is None or context.data.calib is None:
            split = ("calibration windows (data.calib_windows=16)" if context.task.predicts_tokens
                     else "a calibration split (e.g. data=digits)")  # fmt: skip
            raise CalibrationError(
                f"a TASDER search needs calibration data: use mode=eval with a dataset that has "
                f"{split}, or a fixed setting (tasd=uniform, tasd=auto, tasd=plan "
                "tasd.path=<a saved plan>)"
            )
        options = replace(cfg, ignore=context.ignored(cfg.ignore, cfg.targets))
        found = run_search(  # a SearchTASD is the SearchOptions it extends
            model, context.data.calib, context.hw, options, task=context.task,
            profile=context.profile, seed=context.seed, progress=context.progress,
        )  # fmt: skip
        plan_path = found.plan.save(context.output_dir / "plan.yaml")
        log_path = found.save_log(context.output_dir / "search_log.json")
        context.details["search"] = {**found.summary, "plan": str(plan_path), "log": str(log_path)}
        return found.plan

    def label(self, node: dict) -> str:
        if node.get("max_increase") is not None:  # a causal LM's perplexity budget
            label = f"{node.get('strategy', 'tasder')} max_increase={node['max_increase']}"
        else:
            label = f"{node.get('strategy', 'tasder')} max_drop={node.get('max_drop')}"
        if node.get("objective", "edp") != "edp":
            label += f" objective={node['objective']}"
        return label


@PLAN_KINDS.register
class _AutoKind:
    name, config = "auto", AutoTASD

    def build(self, cfg: AutoTASD, model: nn.Module, context: PlanContext) -> ModelPlan:
        from tasder_plugin.search.auto import auto_plan

        # an AutoTASD is its AutoOptions
        plan, choices = auto_plan(
            model, context.hw, cfg, ignore=context.ignored(cfg.ignore, cfg.targets)
        )
        context.details["auto"] = {
            c.fqn: {"series": str(c.series or "dense"), "kept_energy": c.kept_energy,
                    "weight_density": c.weight_density}
            for c in choices
        }  # fmt: skip
        return plan

    def label(self, node: dict) -> str:
        return f"auto kept_energy>={node.get('min_kept_energy')}"
