"""Memory traffic of one layer: buffer reads/writes, DRAM bytes, metadata, the TASD-A selector.

Per pass (one weight term times one activation term), with the array's row operand A
(M x K) and column operand W (K x N), or W^T / A^T when one-sided hardware runs TASD-A as
O^T = W^T A^T:
- the array reads only the K_eff activations its kept slots use (gathered by the metadata, as
  SCALE-Sim's dense M x N x K_eff model); it reads its row operand once per column fold and its
  column operand once per row fold (ws: weights once; is: activations once; os/tile: both);
- ws/is write partial sums once per K fold (read back K folds - 1 times); os/tile once;
- DRAM: weights and their metadata once per pass; the dense activation once per pass
  (sequential) or once per layer (fused); when it does not fit in the usable (half, if double
  buffered) activation buffer, once per buffer-sized chunk of the weights (at most once per
  column fold), and the weights are then read once; outputs once when the layer's partial
  sums fit in the output buffer, else read-modified-written at accumulator width by passes 2..P;
- TASD-A: compressed activation terms and their metadata are produced on chip by the selector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import HardwareSpec
from .table import CandidateTable

__all__ = ["LayerShape", "traffic"]


@dataclass(frozen=True)
class LayerShape:
    """One GEMM layer: ``groups`` GEMMs of (M, N/groups, K); ``row`` = channels per group along
    K (blocks never cross it; ``None``: all of K is one row)."""

    M: int
    N: int
    K: int
    groups: int = 1
    row: int | None = None
    input_density: float = 1.0


def _ceil(a, b):
    return -(-a // b)


def _sum(t: CandidateTable, values) -> np.ndarray:
    return np.add.reduceat(np.broadcast_to(values, t.cand.shape).astype(np.float64), t.starts)


def _folds(hw: HardwareSpec, mx, nx, kc):
    """(reads of the row operand, reads of the column operand, partial-sum writes) per pass."""
    a = hw.array
    r, c = a.rows, a.cols
    if hw.sparsity.engine != "nm" or a.dataflow == "os":
        return _ceil(nx, c), _ceil(mx, r), np.ones_like(kc)
    if a.dataflow == "ws":
        return _ceil(nx, c), np.ones_like(kc), _ceil(kc, r)
    if a.dataflow == "is":
        return np.ones_like(kc), _ceil(mx, c), _ceil(kc, r)
    t = a.tile
    return _ceil(nx, t.n), _ceil(mx, t.m), np.ones_like(kc)


def _energy(buffer, read_bytes, write_bytes):
    return (
        read_bytes * buffer.read_j_per_byte.value_j + write_bytes * buffer.write_j_per_byte.value_j
    )


def traffic(hw: HardwareSpec, t: CandidateTable, s: LayerShape, ng: int, kc, kw, ka) -> dict:
    """Per-candidate energy parts (buffers, dram, metadata, selector) and memory-bound cycles."""
    b, g = hw.bits, s.groups
    tr = t.transposed[t.cand]
    mx, nx = np.where(tr, ng, s.M), np.where(tr, s.M, ng)
    row_reads, col_reads, psum_writes = _folds(hw, mx, nx, kc)
    a_reads, w_reads = np.where(tr, col_reads, row_reads), np.where(tr, row_reads, col_reads)
    w_bytes = ng * kw * b.weight / 8
    w_meta = ng * kw * t.w_meta_bits / 8
    a_dense = s.M * s.K * b.activation / 8
    a_array = s.M * np.minimum(ka, kc) * b.activation / 8  # the values the kept slots use
    a_meta = s.M * ka * t.a_meta_bits / 8
    acc = s.M * ng * b.accumulator / 8
    out_final = s.M * ng * b.output / 8
    act_buf, w_buf, out_buf = (hw.buffer_for(o) for o in ("activations", "weights", "outputs"))
    meta_buf = hw.buffer_for("metadata") or w_buf
    w_chunks = np.ceil((w_bytes + w_meta) / w_buf.usable_bytes)
    a_chunks = np.ceil(a_dense / act_buf.usable_bytes)
    # buffer-level tiling: the row operand is re-read once per buffer-sized chunk of the column
    # operand (at most once per fold), unless it fits; the stationary one is read once
    a_fetch = np.where(a_chunks > 1, np.minimum(a_reads, w_chunks), 1)
    w_fetch = np.where((w_chunks > 1) & (a_fetch == 1), np.minimum(w_reads, a_chunks), 1)
    if hw.sparsity.schedule == "fused":
        a_dram = np.where(t.cand_first, a_dense * a_fetch, 0.0)
    else:
        a_dram = a_dense * a_fetch
    passes = t.passes.astype(np.float64)
    psum_dram = np.where(acc > out_buf.usable_bytes, 2 * acc * (passes - 1), 0.0)
    if hw.sparsity.schedule == "fused":
        psum_dram = np.zeros_like(passes)
    spill = np.where(
        s.M * min(ng, hw.array.cols) * b.accumulator / 8 > out_buf.usable_bytes,
        2 * acc * (psum_writes - 1),
        0.0,
    )
    psum_buf = np.where(acc > out_buf.usable_bytes, 0.0, 2 * acc * (passes - 1))
    parts: dict[str, np.ndarray] = {}
    buf_bytes: dict[str, np.ndarray] = {}

    def charge(buffer, reads, writes, per_candidate=None):
        total_r = _sum(t, reads) * g + (0 if per_candidate is None else per_candidate[0] * g)
        total_w = _sum(t, writes) * g + (0 if per_candidate is None else per_candidate[1] * g)
        key = f"energy_{buffer.name}_j"
        parts[key] = parts.get(key, 0.0) + _energy(buffer, total_r, total_w)
        buf_bytes[buffer.name] = buf_bytes.get(buffer.name, 0.0) + total_r + total_w

    charge(act_buf, a_array * a_reads, a_dram)
    charge(w_buf, w_bytes * w_reads, w_bytes * w_fetch)
    if hw.sparsity.schedule == "fused":
        out_rw = (np.zeros_like(passes), np.zeros_like(passes))
    else:
        out_rw = (psum_buf / 2, np.zeros_like(passes))  # passes 2..P read back partial sums
    charge(
        out_buf,
        acc * (psum_writes - 1) + np.where(t.cand_last, out_final, 0.0),
        acc * psum_writes,
        out_rw,
    )
    meta_r, meta_w = _sum(t, w_meta * w_reads) * g, _sum(t, w_meta * w_fetch) * g
    meta_j = _energy(meta_buf, meta_r, meta_w)
    meta_j += _sum(t, a_meta * a_reads) * g * 8 * hw.energy.register_j_per_bit.value_j
    buf_bytes[meta_buf.name] = buf_bytes.get(meta_buf.name, 0.0) + meta_r + meta_w
    dram_bytes = (_sum(t, w_bytes * w_fetch + a_dram + spill) + psum_dram + out_final) * g
    meta_dram = _sum(t, w_meta * w_fetch) * g
    parts["energy_dram_j"] = dram_bytes * 8 * hw.dram.j_per_bit.value_j
    parts["energy_metadata_j"] = meta_j + meta_dram * 8 * hw.dram.j_per_bit.value_j
    sel_j, sel_cycles = _selector(hw, t, s)
    parts["energy_selector_j"] = sel_j
    for buffer in hw.buffers:
        parts.setdefault(f"energy_{buffer.name}_j", np.zeros_like(passes))
    dram_per_cycle = hw.dram.bandwidth_bytes_per_s / hw.clock_hz
    memory = (dram_bytes + meta_dram) / dram_per_cycle
    for buffer in hw.buffers:
        memory = np.maximum(
            memory, buf_bytes.get(buffer.name, 0.0) / buffer.bandwidth_bytes_per_cycle
        )
    parts["dram_bytes"] = dram_bytes + meta_dram
    parts["selector_cycles"] = sel_cycles
    parts["_memory_cycles"] = memory
    return parts


def _selector(hw: HardwareSpec, t: CandidateTable, s: LayerShape):
    """TASD-A top-n selection: n(m-1)/m comparisons and one register write per element and term
    (once per pass when streaming; once per term plus a buffer round trip when materialised)."""
    sel = hw.selector
    elements = float(s.M * s.K * s.groups)
    runs = t.sel_first if sel.materialize else t.sel_cmp > 0
    per_element = t.sel_cmp * sel.comparator_j.value_j
    per_element = per_element + hw.bits.activation * hw.energy.register_j_per_bit.value_j
    energy = _sum(t, np.where(runs, per_element * elements, 0.0))
    if sel.materialize:
        act_buf = hw.buffer_for("activations")
        term_bytes = elements * (t.a_n / t.a_m) * (hw.bits.activation + t.a_meta_bits) / 8
        energy = energy + _sum(t, np.where(runs, _energy(act_buf, term_bytes, term_bytes), 0.0))
    cycles = _sum(t, np.where(runs, elements / sel.elements_per_cycle, 0.0))
    return energy, cycles
