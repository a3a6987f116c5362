"""Memory traffic of one layer: DRAM bytes by operand, buffer bytes, their energy, the selector.

Per pass (one weight term times one activation term), with the array's row operand A (M x K)
and column operand W (K x N), or W^T / A^T when one-sided hardware runs TASD-A as O^T = W^T A^T:

- buffer reads follow the array (the im2col view, :mod:`.dataflows`): it reads only the K_eff
  activations its kept slots use (gathered by the metadata, as SCALE-Sim's dense M x N x K_eff
  model), each operand as often as its dataflow says; accumulators drain to the output buffer
  as the schedule says (each drain but the last is read back), and the final outputs are read
  once on their way to DRAM;
- buffer writes are the DRAM fills, and the drains;
- DRAM moves real tensors: the input, weights (+ metadata) and outputs as the schedule's jobs
  are tiled (:mod:`.tiling`, :mod:`.schedules`), partial sums only where they spill;
- TASD-A: the selector decomposes each input activation once per activation term as it enters
  the chip (blocks run along channels at a pixel, so every im2col window reuses the result); a
  materialising selector also writes the compressed terms to the activation buffer and reads
  them back. Activation metadata stays in registers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dataflows import get_dataflow
from .engines import PassWork
from .schedules import get_schedule
from .shapes import LayerShape
from .spec import HardwareSpec
from .table import CandidateTable

__all__ = ["DRAM_OPERANDS", "LayerTraffic", "layer_traffic"]

DRAM_OPERANDS = ("inputs", "weights", "metadata", "outputs", "partial_sums")


@dataclass(frozen=True)
class LayerTraffic:
    """Per-candidate arrays for one layer (all groups).

    ``dram_bytes_by_operand``: keys :data:`DRAM_OPERANDS`; ``buffer_bytes``: reads + writes per
    buffer name; ``energy_j``: one entry per buffer name plus ``dram``, ``metadata`` (its SRAM,
    DRAM and register energy) and ``selector``; ``selector_cycles``: the selector's busy time.
    """

    dram_bytes_by_operand: dict[str, np.ndarray]
    buffer_bytes: dict[str, np.ndarray]
    energy_j: dict[str, np.ndarray]
    selector_cycles: np.ndarray

    @property
    def dram_bytes(self) -> np.ndarray:
        return sum(self.dram_bytes_by_operand.values())

    def memory_cycles(self, hw: HardwareSpec) -> dict[str, np.ndarray]:
        """Cycles each memory needs at its bandwidth: ``dram`` and one per buffer name."""
        cycles = {"dram": self.dram_bytes / (hw.dram.bandwidth_bytes_per_s / hw.clock_hz)}
        for b in hw.buffers:
            cycles[b.name] = self.buffer_bytes[b.name] / b.bandwidth_bytes_per_cycle
        return cycles


def _energy(buffer, read_bytes, write_bytes):
    return (
        read_bytes * buffer.read_j_per_byte.value_j + write_bytes * buffer.write_j_per_byte.value_j
    )


def layer_traffic(
    hw: HardwareSpec, t: CandidateTable, s: LayerShape, work: PassWork, tr: np.ndarray
) -> LayerTraffic:
    """``tr``: per pass, whether it runs as O^T = W^T A^T (the array's operands swap)."""
    b, g, ng = hw.bits, s.groups, s.N // s.groups
    mx, nx = np.where(tr, ng, s.M), np.where(tr, s.M, ng)
    row_reads, col_reads = get_dataflow(hw.array.dataflow).reads(hw.array, mx, nx, work.kc)
    a_reads, w_reads = np.where(tr, col_reads, row_reads), np.where(tr, row_reads, col_reads)
    w_bytes = ng * work.kw * b.weight / 8
    w_meta = ng * work.kw * t.w_meta_bits / 8
    # the array reads only the values its kept reduction slots use, of either operand
    w_array = ng * np.minimum(work.kw, work.kc) * b.weight / 8
    a_array = s.M * np.minimum(work.ka, work.kc) * b.activation / 8
    a_meta = s.M * work.ka * t.a_meta_bits / 8
    acc = s.accumulator_bytes(b.accumulator)
    out_final = s.output_elems_per_group * b.output / 8
    schedule = get_schedule(hw.sparsity.schedule)
    dram = schedule.dram(hw, t, s, w_bytes, w_meta)
    drains = schedule.drains(hw, t, work)

    act_buf, w_buf, out_buf = (hw.buffer_for(o) for o in ("activations", "weights", "outputs"))
    meta_buf = hw.buffer_for("metadata") or w_buf
    zero = np.zeros(t.candidates)
    energy = {buffer.name: zero for buffer in hw.buffers}
    traffic = {buffer.name: zero for buffer in hw.buffers}

    def charge(buffer, reads, writes):
        energy[buffer.name] = energy[buffer.name] + _energy(buffer, reads * g, writes * g)
        traffic[buffer.name] = traffic[buffer.name] + (reads + writes) * g

    charge(act_buf, t.per_candidate(a_array * a_reads), dram.inputs)
    charge(w_buf, t.per_candidate(w_array * w_reads), dram.weights)
    charge(out_buf, acc * (drains - 1) + out_final, acc * drains)
    meta_r = t.per_candidate(w_meta * w_reads)
    traffic[meta_buf.name] = traffic[meta_buf.name] + (meta_r + dram.metadata) * g
    dram_j = 8 * hw.dram.j_per_bit.value_j
    by_operand = {
        "inputs": dram.inputs * g,
        "weights": dram.weights * g,
        "metadata": dram.metadata * g,
        "outputs": np.full(t.candidates, out_final * g),
        "partial_sums": dram.partial_sums * g,
    }
    energy["dram"] = sum(v for k, v in by_operand.items() if k != "metadata") * dram_j
    energy["metadata"] = (
        _energy(meta_buf, meta_r * g, dram.metadata * g)
        + t.per_candidate(a_meta * a_reads) * g * 8 * hw.energy.register_j_per_bit.value_j
        + by_operand["metadata"] * dram_j
    )
    energy["selector"], selector_cycles, term_bytes = _selector(hw, t, dram, g)
    traffic[act_buf.name] = traffic[act_buf.name] + 2 * term_bytes
    return LayerTraffic(by_operand, traffic, energy, selector_cycles)


def _selector(hw: HardwareSpec, t: CandidateTable, dram, groups: int):
    """TASD-A top-n selection, once per activation term on each input element a kernel fetches
    (``dram.selects``): n(m-1)/m comparisons and one register write per element (a
    materialising selector also writes the compressed term to the activation buffer and reads
    it back). Returns energy, cycles and the materialised bytes written (= read) per
    candidate."""
    sel = hw.selector
    elements = dram.pass_inputs * groups / (hw.bits.activation / 8)
    runs = dram.selects
    per_element = t.sel_cmp * sel.comparator_j.value_j
    per_element = per_element + hw.bits.activation * hw.energy.register_j_per_bit.value_j
    energy = t.per_candidate(np.where(runs, per_element * elements, 0.0))
    term_bytes = np.zeros(t.candidates)
    if sel.materialize:
        act_buf = hw.buffer_for("activations")
        size = elements * (t.a_n / t.a_m) * (hw.bits.activation + t.a_meta_bits) / 8
        term_bytes = t.per_candidate(np.where(runs, size, 0.0))
        energy = energy + _energy(act_buf, term_bytes, term_bytes)
    cycles = t.per_candidate(np.where(runs, elements / sel.elements_per_cycle, 0.0))
    return energy, cycles, term_bytes
