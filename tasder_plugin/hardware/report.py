"""``estimate_cost``: a model profile under a plan on one accelerator -> a ``CostReport``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..tasd.layer_plan import LayerPlan
from .load import load_hardware
from .model import bound_names, evaluate
from .shapes import LayerShape
from .spec import HardwareSpec
from .table import CandidateTable, build_table
from .traffic import DRAM_OPERANDS

__all__ = ["LayerCost", "CostReport", "Comparison", "estimate_cost", "cost_candidates"]


@dataclass(frozen=True)
class LayerCost:
    """One GEMM of the profile: what ran, how long it took, what it cost, and why.

    ``dram_bytes_by_operand``: DRAM bytes of ``inputs``, ``weights``, ``metadata``, ``outputs``
    and ``partial_sums``; ``bound``: what sets the latency (``compute``, ``dram``, a buffer's
    name: its bandwidth, or ``selector``).
    """

    fqn: str
    op: str
    M: int
    N: int
    K: int
    groups: int
    weights_planned: str
    activations_planned: str
    weights_ran_as: str
    activations_ran_as: str
    transposed: bool
    passes: int
    compute_cycles: float
    cycles: float
    latency_s: float
    energy_j: float
    energy_breakdown_j: dict[str, float] = field(hash=False)
    dram_bytes: float
    dram_bytes_by_operand: dict[str, float] = field(hash=False)
    bound: str
    reasons: tuple[str, ...]

    @property
    def edp_js(self) -> float:
        return self.energy_j * self.latency_s

    def as_row(self) -> dict:
        nested = ("energy_breakdown_j", "dram_bytes_by_operand")
        row = {k: v for k, v in self.__dict__.items() if k not in nested}
        row["reasons"] = "; ".join(self.reasons)
        row["edp_js"] = self.edp_js
        row.update({f"energy_{k}_j": v for k, v in self.energy_breakdown_j.items()})
        row.update({f"dram_{k}_bytes": v for k, v in self.dram_bytes_by_operand.items()})
        return row


@dataclass(frozen=True)
class Comparison:
    speedup: float  # dense latency / this latency
    energy_ratio: float  # this energy / dense energy
    edp_reduction: float  # 1 - EDP / EDP_dense


@dataclass(frozen=True)
class CostReport:
    """Totals over layers; network EDP = (sum of energies) x (sum of latencies)."""

    hardware: str
    schedule: str
    per_layer: tuple[LayerCost, ...]

    @property
    def cycles(self) -> float:
        return float(sum(r.cycles for r in self.per_layer))

    @property
    def compute_cycles(self) -> float:
        return float(sum(r.compute_cycles for r in self.per_layer))

    @property
    def latency_s(self) -> float:
        return float(sum(r.latency_s for r in self.per_layer))

    @property
    def energy_j(self) -> float:
        return float(sum(r.energy_j for r in self.per_layer))

    @property
    def edp_js(self) -> float:
        return self.energy_j * self.latency_s

    def bound_counts(self) -> dict[str, int]:
        """How many layers each bound (compute, dram, a buffer, the selector) holds, most first."""
        return dict(Counter(r.bound for r in self.per_layer).most_common())

    @property
    def energy_breakdown_j(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for r in self.per_layer:
            for k, v in r.energy_breakdown_j.items():
                total[k] = total.get(k, 0.0) + v
        return total

    def vs(self, dense: CostReport) -> Comparison:
        """Speed-up, energy ratio and EDP reduction relative to ``dense`` (same hardware)."""
        return Comparison(
            speedup=dense.latency_s / self.latency_s,
            energy_ratio=self.energy_j / dense.energy_j,
            edp_reduction=1.0 - self.edp_js / dense.edp_js,
        )

    def summary(self) -> dict:
        return {
            "hw": self.hardware,
            "schedule": self.schedule,
            "cycles": self.cycles,
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "edp_js": self.edp_js,
            **{f"energy_{k}_j": v for k, v in self.energy_breakdown_j.items()},
        }


_PARTS = ("mac", "registers")


def _layer_cost(record, plan: LayerPlan | None, hw: HardwareSpec, strict: bool) -> LayerCost:
    plan = plan or LayerPlan()
    shape = LayerShape.of(record)
    table = build_table(
        [plan], hw, row=shape.row, is_weight_gemm=record.is_weight_gemm,
        strict=strict, fqn=record.fqn,
    )  # fmt: skip
    out = evaluate(shape, table, hw)
    mp = table.mappings[0]
    names = [*_PARTS, *(b.name for b in hw.buffers), "dram", "metadata", "selector"]
    reasons = mp.reasons
    if not record.is_weight_gemm and not reasons:
        reasons = ("activation GEMM: runs dense",)
    return LayerCost(
        fqn=record.fqn,
        op=record.op,
        M=record.M,
        N=record.N,
        K=record.K,
        groups=record.groups,
        weights_planned=str(plan.weights or "dense"),
        activations_planned=str(plan.activations or "dense"),
        weights_ran_as=mp.weights_ran_as,
        activations_ran_as=mp.activations_ran_as,
        transposed=bool(out["transposed"][0]),
        passes=len(mp.passes),
        compute_cycles=float(out["compute_cycles"][0]),
        cycles=float(out["cycles"][0]),
        latency_s=float(out["latency_s"][0]),
        energy_j=float(out["energy_j"][0]),
        energy_breakdown_j={n: float(out[f"energy_{n}_j"][0]) for n in names},
        dram_bytes=float(out["dram_bytes"][0]),
        dram_bytes_by_operand={k: float(out[f"dram_{k}_bytes"][0]) for k in DRAM_OPERANDS},
        bound=bound_names(hw)[int(out["bound"][0])],
        reasons=reasons,
    )


def estimate_cost(
    profile, plan: Mapping, hw: HardwareSpec | str, strict: bool = False
) -> CostReport:
    """Cost every GEMM of ``profile`` under ``plan`` on ``hw`` (a spec, preset name or path).

    Layers absent from the plan and activation GEMMs run dense. A term the hardware cannot run
    exactly is mapped by the cover rule (and the row says why), or raises with ``strict=True``.
    """
    hw = load_hardware(hw)
    unknown = [name for name in plan if not any(r.fqn == name for r in profile.records)]
    if unknown:
        raise ValueError(f"plan layer {unknown[0]!r} is not in the profile")
    rows = tuple(_layer_cost(r, plan.get(r.fqn), hw, strict) for r in profile.records)
    return CostReport(hw.name, hw.sparsity.schedule, rows)


def cost_candidates(
    record,
    plans: Sequence[LayerPlan] | CandidateTable,
    hw: HardwareSpec | str,
) -> dict[str, np.ndarray]:
    r"""Cost one profiled GEMM under many candidate :class:`LayerPlan`\ s at once.

    ``plans`` may be a prebuilt :func:`build_table` (reuse it across layers with the same
    ``channels_per_group`` class); returns per-candidate arrays as :func:`evaluate` does.
    """
    hw = load_hardware(hw)
    shape = LayerShape.of(record)
    table = (
        plans
        if isinstance(plans, CandidateTable)
        else build_table(plans, hw, row=shape.row, is_weight_gemm=record.is_weight_gemm)
    )
    return evaluate(shape, table, hw)
