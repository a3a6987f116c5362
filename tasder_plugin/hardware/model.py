"""The closed-form per-layer cost, vectorised over the passes of many candidates at once.

All counts are per layer: ``groups`` independent GEMMs of ``(M, N/groups, K)``. The engine
(:mod:`.engines`) says what each pass executes, the dataflow (:mod:`.dataflows`) how long one
pass takes and how often the array reads each operand, the schedule (:mod:`.schedules`) how the
passes of a series combine and what moves to and from DRAM (tiled by :mod:`.tiling`). The
latency is the slowest of compute, DRAM, each buffer's bandwidth and the TASD-A selector (they
overlap: double-buffered tiles, a pipelined selector); that one is the layer's ``bound``.
Energy: MAC slots (gated ones at the gated cost), PE registers per issued slot (both operands
read, the accumulator read and written at its width, as ZigZag's PE model counts them), and
the traffic's buffer, DRAM, metadata and selector parts.
"""

from __future__ import annotations

import numpy as np

from .engines import get_engine
from .schedules import get_schedule
from .shapes import LayerShape
from .spec import HardwareSpec
from .table import CandidateTable
from .traffic import DRAM_OPERANDS, layer_traffic

__all__ = ["bound_names", "evaluate"]


def bound_names(hw: HardwareSpec) -> tuple[str, ...]:
    """What can set a layer's latency, in the order of ``evaluate``'s ``bound`` indices."""
    return ("compute", "dram", *(b.name for b in hw.buffers), "selector")


def _orientation(hw: HardwareSpec, engine, t: CandidateTable, s: LayerShape, work) -> np.ndarray:
    """Per pass: whether it runs as O^T = W^T A^T (M and N swap). On one-sided hardware the
    compressed side must sit on the compressed port (the mapping says whether that swaps the
    GEMM); a pass with both operands dense takes the orientation with fewer cycles, as a GEMM
    library swaps its operands."""
    tr = t.transposed[t.cand]
    dense = ~(t.w_comp | t.a_comp)
    if not dense.any():
        return tr
    ng = s.N // s.groups
    normal = engine.cycles(hw, s.M, ng, work.kc, work.slots)
    swapped = engine.cycles(hw, ng, s.M, work.kc, work.slots)
    return np.where(dense, swapped < normal, tr)


def evaluate(shape: LayerShape, table: CandidateTable, hw: HardwareSpec) -> dict[str, np.ndarray]:
    """Cost of one layer under every candidate of ``table``: a dict of per-candidate arrays.

    Keys: ``compute_cycles``, ``cycles`` (the latency in cycles), ``latency_s``, ``energy_j``
    and its parts ``energy_<part>_j`` (mac, registers, one per buffer, dram, metadata,
    selector), ``dram_bytes`` and ``dram_<operand>_bytes`` (inputs, weights, metadata, outputs,
    partial_sums), ``macs_executed``, ``selector_cycles``, ``bound`` (an index into
    :func:`bound_names`) and ``transposed`` (whether the first pass ran as O^T = W^T A^T).
    """
    s, t = shape, table
    ng = s.N // s.groups
    engine = get_engine(hw.sparsity.engine)
    work = engine.work(hw, t, s, ng)
    tr = _orientation(hw, engine, t, s, work)
    mx, nx = np.where(tr, ng, s.M), np.where(tr, s.M, ng)
    compute = get_schedule(hw.sparsity.schedule).compute_cycles(hw, t, mx, nx, work) * s.groups
    traffic = layer_traffic(hw, t, s, work, tr)
    e = hw.energy
    gated = work.useful * e.mac_j.value_j + (1 - work.useful) * e.gated_mac_j.value_j
    # per MAC slot: read both operands, read-modify-write the accumulator register
    reg_bits = hw.bits.weight + hw.bits.activation + 2 * hw.bits.accumulator
    out = {
        "energy_mac_j": t.per_candidate(work.slots * gated) * s.groups,
        "energy_registers_j": t.per_candidate(work.slots * reg_bits)
        * (e.register_j_per_bit.value_j * s.groups),
        **{f"energy_{name}_j": v for name, v in traffic.energy_j.items()},
    }
    out["energy_j"] = sum(out.values())
    bounds = np.stack([compute, *traffic.memory_cycles(hw).values(), traffic.selector_cycles])
    out["compute_cycles"] = compute
    out["cycles"] = bounds.max(axis=0)
    out["bound"] = bounds.argmax(axis=0)
    out["latency_s"] = out["cycles"] / hw.clock_hz
    out["macs_executed"] = t.per_candidate(work.slots * work.useful) * s.groups
    out["selector_cycles"] = traffic.selector_cycles
    out["dram_bytes"] = traffic.dram_bytes
    out["transposed"] = tr[t.starts]
    for operand in DRAM_OPERANDS:
        out[f"dram_{operand}_bytes"] = traffic.dram_bytes_by_operand[operand]
    return out
