"""The closed-form per-layer cost, vectorised over the passes of many candidates at once.

All counts are per layer: ``groups`` independent GEMMs of ``(M, N/groups, K)``. Compute cycles
of one pass on an R x C systolic array, with K_eff the kept reduction slots of the compressed
operand (K when dense): ws ceil(K_eff/R).ceil(N/C).(2R+C+M-2); is ceil(K_eff/R).ceil(M/C).
(2R+C+N-2); os ceil(M/R).ceil(N/C).(K_eff+R+C-2); tile ceil(M/Tm).ceil(N/Tn).ceil(K_eff/Tk).t
+ fill. Sequential series: the sum over passes; fused: one GEMM with K = sum of K_eff.
"""

from __future__ import annotations

import numpy as np

from .spec import HardwareSpec
from .table import CandidateTable
from .traffic import LayerShape, _ceil, _sum, traffic

__all__ = ["LayerShape", "evaluate"]


def _k_eff(k: int, n: np.ndarray, m: np.ndarray, row: int) -> np.ndarray:
    n, m = n.astype(np.int64), m.astype(np.int64)
    return (k // row) * ((row // m) * n + np.minimum(n, row % m))


def _cycles(hw: HardwareSpec, mx, nx, kc):
    """Compute cycles of one GEMM pass (mx rows, nx columns, kc reduction slots)."""
    a = hw.array
    r, c = a.rows, a.cols
    if a.dataflow == "ws":
        return _ceil(kc, r) * _ceil(nx, c) * (2 * r + c + mx - 2)
    if a.dataflow == "is":
        return _ceil(kc, r) * _ceil(mx, c) * (2 * r + c + nx - 2)
    if a.dataflow == "os":
        return _ceil(mx, r) * _ceil(nx, c) * (kc + r + c - 2)
    t = a.tile
    return _ceil(mx, t.m) * _ceil(nx, t.n) * _ceil(kc, t.k) * t.cycles_per_tile + t.fill_cycles


def _work(hw: HardwareSpec, t: CandidateTable, s: LayerShape, ng: int):
    """Per pass: reduction slots in time ``kc``, weight slots ``kw``, activation slots ``ka``,
    MAC slots executed, and the fraction of them with non-zero operands (the rest are gated)."""
    row = s.K if s.row is None else s.row
    kw = np.where(t.w_comp, _k_eff(s.K, t.w_n, t.w_m, row), s.K)
    ka = np.where(t.a_comp, _k_eff(s.K, t.a_n, t.a_m, row), s.K)
    engine, d_in = hw.sparsity.engine, s.input_density
    if engine == "unstructured":  # work scales with both densities; zeros are never issued
        d_w = np.where(t.w_comp, t.w_n / t.w_m, 1.0)
        d_a = np.where(t.a_comp, np.minimum(t.a_n / t.a_m, d_in), d_in)
        slots = s.M * ng * s.K * d_w * d_a
        return kw, kw, ka, slots, np.ones_like(slots)
    if engine == "block_dual":  # activations time-unrolled per block, weights spatial
        kc = ka
        slots = s.M * ng * ka * (t.w_n / t.w_m)
    else:
        kc = np.where(t.w_comp, kw, np.where(t.a_comp, ka, s.K))
        slots = s.M * ng * kc.astype(np.float64)
    useful = np.where(t.a_comp, np.minimum(1.0, d_in * t.a_m / t.a_n), d_in)
    if not hw.sparsity.gate_zeros:
        useful = np.ones_like(useful)
    return kc, kw, ka, slots, useful


def _compute_cycles(hw, t: CandidateTable, s: LayerShape, ng: int, kc, slots):
    """Per-candidate compute cycles of the whole layer (all groups), by schedule."""
    fused = hw.sparsity.schedule == "fused"
    if hw.sparsity.engine == "unstructured":
        a = hw.array
        per_cycle, fill = a.rows * a.cols * a.utilization, a.rows + a.cols - 2
        if fused:
            return (np.ceil(_sum(t, slots) / per_cycle) + fill) * s.groups
        return _sum(t, np.ceil(slots / per_cycle) + fill) * s.groups
    if fused:
        k_total = _sum(t, kc).astype(np.int64)
        mx, nx = np.where(t.transposed, ng, s.M), np.where(t.transposed, s.M, ng)
        return _cycles(hw, mx, nx, k_total).astype(np.float64) * s.groups
    tr = t.transposed[t.cand]
    mx, nx = np.where(tr, ng, s.M), np.where(tr, s.M, ng)
    return _sum(t, _cycles(hw, mx, nx, kc)) * s.groups


def evaluate(shape: LayerShape, table: CandidateTable, hw: HardwareSpec) -> dict[str, np.ndarray]:
    """Cost of one layer under every candidate of ``table``: a dict of per-candidate arrays.

    Keys: ``compute_cycles``, ``cycles`` (= max(compute, memory, selector): the latency in
    cycles), ``latency_s``, ``energy_j`` and its parts ``energy_<part>_j`` (mac, registers, one
    per buffer, dram, metadata, selector), ``dram_bytes``, ``macs_executed``, ``selector_cycles``.
    """
    s, t = shape, table
    ng = s.N // s.groups
    kc, kw, ka, slots, useful = _work(hw, t, s, ng)
    out = traffic(hw, t, s, ng, kc, kw, ka)
    e = hw.energy
    mac_j = slots * (useful * e.mac_j.value_j + (1 - useful) * e.gated_mac_j.value_j)
    reg_bits = hw.bits.weight + hw.bits.activation
    out["energy_mac_j"] = _sum(t, mac_j) * s.groups
    out["energy_registers_j"] = _sum(t, slots * reg_bits) * e.register_j_per_bit.value_j * s.groups
    out["macs_executed"] = _sum(t, slots * useful) * s.groups
    compute = _compute_cycles(hw, t, s, ng, kc, slots)
    out["compute_cycles"] = compute
    memory = out.pop("_memory_cycles")
    out["cycles"] = np.maximum(np.maximum(compute, memory), out["selector_cycles"])
    out["latency_s"] = out["cycles"] / hw.clock_hz
    out["energy_j"] = sum(v for k, v in out.items() if k.startswith("energy_"))
    return out
