"""Profile -> apply -> cost: the one path :class:`~tasder_plugin.lightning.TASDCallback` and the
``python -m evaluation`` harness both take, so they report the same ``hw/*`` and ``tasd/*``
metrics for the same model, plan and hardware.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .hardware import estimate_cost
from .hardware.report import CostReport
from .hardware.spec import HardwareSpec
from .nn import ModelPlan, apply_tasd_, effective_plan, remove_tasd_
from .profile import ModelProfile

__all__ = ["AppliedPlan", "apply_and_cost_", "cost_line"]


@dataclass
class AppliedPlan:
    """A plan applied to a model, with its cost and the dense model's on the same profile."""

    plan: ModelPlan
    reports: list  # per layer: what surgery applied, and why a side stayed dense
    cost: CostReport
    dense_cost: CostReport

    def metrics(self) -> dict[str, float]:
        """``hw/*`` (this plan), ``dense_hw/*`` and the comparisons, ``tasd/*`` layer counts."""
        vs = self.cost.vs(self.dense_cost)
        return {
            **_cost_fields("hw", self.cost),
            **_cost_fields("dense_hw", self.dense_cost),
            "hw/speedup": vs.speedup,
            "hw/energy_ratio": vs.energy_ratio,
            "hw/edp_reduction": vs.edp_reduction,
            "tasd/layers_planned": len(self.plan.decomposed()),
            "tasd/layers_weights": sum(r.weights is not None for r in self.reports),
            "tasd/layers_activations": sum(r.activations is not None for r in self.reports),
        }


def _cost_fields(prefix: str, cost: CostReport) -> dict[str, float]:
    return {
        f"{prefix}/cycles": cost.cycles,
        f"{prefix}/latency_s": cost.latency_s,
        f"{prefix}/energy_j": cost.energy_j,
        f"{prefix}/edp_js": cost.edp_js,
    }


def cost_line(metrics: dict[str, float]) -> str:
    """The cost of :meth:`AppliedPlan.metrics` in one line, as every command prints it."""
    m = metrics
    return (
        f"EDP {m['hw/edp_js']:.4g} J*s (dense {m['dense_hw/edp_js']:.4g}) | "
        f"EDP reduction {m['hw/edp_reduction']:.1%} | speedup {m['hw/speedup']:.2f}x | "
        f"energy {m['hw/energy_ratio']:.2f}x dense"
    )


def apply_and_cost_(
    model: nn.Module,
    plan: ModelPlan,
    hw: HardwareSpec,
    profile: ModelProfile,
    *,
    strict: bool = False,
) -> AppliedPlan:
    """Apply ``plan`` to ``model`` in place and cost what surgery really applied (a side it
    left dense is costed dense). The model stays decomposed until ``remove_tasd_(model)``; if
    costing fails it is restored before the error propagates."""
    reports = apply_tasd_(model, plan)
    try:
        cost = estimate_cost(profile, effective_plan(plan, reports), hw, strict=strict)
        dense_cost = estimate_cost(profile, ModelPlan.dense(model), hw)
    except BaseException:
        remove_tasd_(model)
        raise
    return AppliedPlan(plan, reports, cost, dense_cost)
