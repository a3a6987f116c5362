"""Schedules of a series: how the passes of one layer share time, accumulators and DRAM.

One object per ``sparsity.schedule``, registered by name. Each knows its compute cycles, its
accumulator drains to the output buffer (SRAM) and its DRAM traffic (via :mod:`.tiling`):

- ``fused``: the unit runs all terms in one array pass. Cycles: one GEMM with K = the sum of
  the terms' K_eff. Accumulators drain as for that one pass. DRAM: one job holding every
  weight term on chip; the input, weights and outputs move as that job's tiling says.
- ``interleaved``: a kernel runs the terms of one output tile back to back into the same
  accumulators (a tensor-core kernel's loop over terms inside its tile loop). Cycles: the sum of
  the terms' passes. Accumulators: an output-stationary array (os, tile) keeps them in the PEs
  across terms and drains once; ws/is drain per K fold of every term. DRAM: one job, as fused.
- ``sequential``: separate kernels, one full GEMM per term. Cycles: the sum of the passes.
  Accumulators drain per pass (the next kernel reads them back). DRAM: one job per pass; the
  input is fetched again only when it does not stay on chip (the job's tiling needs more than
  one input tile), a term's weights again only when a new term starts or they do not fit, and
  the partial sums between kernels spill (written and read back at accumulator width) only when
  they do not fit the output buffer beside a resident input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..registry import Registry
from .dataflows import get_dataflow
from .engines import PassWork, get_engine
from .shapes import LayerShape
from .table import CandidateTable
from .tiling import job_traffic

__all__ = ["Schedule", "SCHEDULES", "get_schedule", "register_schedule", "ScheduleDram"]


@dataclass(frozen=True)
class ScheduleDram:
    """Per-candidate DRAM bytes of one group; per pass, the input bytes its kernel sweeps and
    whether the TASD-A selector decomposes them there (``selects``)."""

    inputs: np.ndarray
    weights: np.ndarray
    metadata: np.ndarray
    partial_sums: np.ndarray
    pass_inputs: np.ndarray
    selects: np.ndarray


SCHEDULES: Registry[Schedule] = Registry("schedule")
register_schedule = SCHEDULES.register
get_schedule = SCHEDULES.get


def _one_job(hw, t: CandidateTable, shape: LayerShape, w_bytes, meta_bytes) -> ScheduleDram:
    """All weight terms of a candidate on chip together: one tiled job per candidate."""
    first = t.w_first
    job = job_traffic(
        hw, shape, t.per_candidate(np.where(first, w_bytes, 0.0)),
        t.per_candidate(np.where(first, meta_bytes, 0.0)),
    )  # fmt: skip
    return ScheduleDram(
        job.inputs, job.weights, job.metadata, job.partial_sums, t.per_pass(job.inputs),
        t.sel_first,  # each activation term once, as the kernel's input arrives
    )  # fmt: skip


class Schedule:
    name = ""

    def compute_cycles(self, hw, t: CandidateTable, mx, nx, work: PassWork) -> np.ndarray:
        """Per-candidate compute cycles of one group (``mx``, ``nx`` per pass)."""
        engine = get_engine(hw.sparsity.engine)
        return t.per_candidate(engine.cycles(hw, mx, nx, work.kc, work.slots))

    def drains(self, hw, t: CandidateTable, work: PassWork) -> np.ndarray:
        """Per-candidate accumulator writes to the output buffer (each read back but the last)."""
        return t.per_candidate(get_dataflow(hw.array.dataflow).drains(hw.array, work.kc))

    def dram(self, hw, t, shape, w_bytes, meta_bytes) -> ScheduleDram:
        return _one_job(hw, t, shape, w_bytes, meta_bytes)


@register_schedule
class Fused(Schedule):
    name = "fused"

    def compute_cycles(self, hw, t, mx, nx, work):
        engine = get_engine(hw.sparsity.engine)
        first = t.cand_first
        k_total = t.per_candidate(work.kc).astype(np.int64)
        slots = t.per_candidate(work.slots)
        return engine.cycles(hw, mx[first], nx[first], k_total, slots).astype(np.float64)

    def drains(self, hw, t, work):
        k_total = t.per_candidate(work.kc).astype(np.int64)
        return get_dataflow(hw.array.dataflow).drains(hw.array, k_total).astype(np.float64)


@register_schedule
class Interleaved(Schedule):
    name = "interleaved"

    def drains(self, hw, t, work):
        if get_dataflow(hw.array.dataflow).keeps_accumulators:
            return np.ones(t.candidates)
        return super().drains(hw, t, work)


@register_schedule
class Sequential(Schedule):
    name = "sequential"

    def dram(self, hw, t, shape, w_bytes, meta_bytes):
        job = job_traffic(hw, shape, w_bytes, meta_bytes)  # one job per pass
        later = ~t.cand_first
        inputs = np.where(later & job.input_resident, 0.0, job.inputs)
        refetch = t.w_first | ~job.weights_resident
        acc = shape.accumulator_bytes(hw.bits.accumulator)
        out_buf = hw.buffer_for("outputs")
        shared = out_buf is hw.buffer_for("activations")
        beside = job.tiling.tile_bytes if shared else 0.0  # the input tile on chip
        between = 0.0 if acc + beside <= out_buf.usable_bytes else 2 * acc
        psums = job.partial_sums + np.where(later, between, 0.0)
        # an input fetched again is decomposed again by its activation term
        selects = t.sel_first | ((t.sel_cmp > 0) & later & (not job.input_resident))
        return ScheduleDram(
            t.per_candidate(inputs),
            t.per_candidate(np.where(refetch, job.weights, 0.0)),
            t.per_candidate(np.where(refetch, job.metadata, 0.0)),
            t.per_candidate(psums),
            job.inputs,
            selects,
        )
