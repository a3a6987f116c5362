"""Drive ZigZag (KU Leuven, PyPI ``zigzag-dse`` 3.9) offline on one layer and parse its numbers.

What is compared: one conv / GEMM layer ``O[b][k][oy][ox] += W[k][c][fy][fx] * I[b][c][iy][ix]``
on a rows x cols array whose PEs hold one weight word, one accumulator word and (unless
``input_register=False``) the one-word input latch a systolic PE forwards to its neighbour; one
SRAM for inputs and outputs, one for weights, and DRAM. The spatial unrolling is fixed by the
dataflow, ZigZag's LOMA searches the temporal mapping, and :func:`run_zigzag` returns latency,
energy per level, and DRAM / SRAM bytes per operand of the best mapping.

How energies are matched: ZigZag charges ``r_cost`` / ``w_cost`` per access of ``bandwidth_max``
bits and counts ``ceil(bits / bandwidth_min) * bandwidth_min / bandwidth_max`` accesses per
transfer period. SRAM and DRAM ports get ``bandwidth_min`` = 8 bits and ``r_cost = pJ/byte *
bandwidth_max / 8``, so each byte costs our pJ/byte (up to ZigZag's ``int()`` of the access
count); registers are accessed a word at a time at ``bits * register_pj_per_bit``; each MAC costs
``mac_pj``. Bytes are ZigZag's element counts times their precision (its energy uses
amount-per-period x periods, which charges partial sums one extra read-back pass). Partial sums
travel at ``accumulator_bits``: once a level reads them back, ZigZag writes every output into it
at that width, the final ones included.

zigzag is imported inside the functions, so this module imports without the 'validate' extra.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ZigZagArch", "ZigZagLayer", "ZigZagResult", "run_zigzag"]

_REGS = ("w_reg", "in_reg", "acc_reg")


@dataclass(frozen=True)
class ZigZagArch:
    rows: int  # array rows: C (and FY, FX with im2col_rows) for 'ws'/'is', pixels for 'os'
    cols: int  # array cols: K for 'ws'/'os', output pixels for 'is'
    dataflow: str  # 'ws', 'os' or 'is'
    act_out_buffer_bytes: int  # one SRAM holding inputs AND outputs
    weight_buffer_bytes: int  # one SRAM holding weights
    act_out_read_pj_per_byte: float
    act_out_write_pj_per_byte: float
    weight_read_pj_per_byte: float
    weight_write_pj_per_byte: float
    dram_pj_per_bit: float
    mac_pj: float
    register_pj_per_bit: float  # PE-level registers
    act_bits: int = 8
    weight_bits: int = 8
    output_bits: int = 8
    accumulator_bits: int = 32
    sram_bytes_per_cycle: int = 256  # per port; each SRAM has one read and one write port
    dram_bytes_per_cycle: float = 25.6  # one read/write port, rounded to whole bits per cycle
    input_register: bool = True  # per-PE input latch (systolic forwarding)
    split_act_out_ports: bool = False  # inputs and outputs get a read and a write port each
    im2col_rows: bool = False  # 'ws'/'is' with C < rows: unroll FY, FX on the rows too


@dataclass(frozen=True)
class ZigZagLayer:
    name: str
    batch: int
    in_channels: int
    out_channels: int
    out_h: int  # output extent
    out_w: int
    kernel_h: int = 1
    kernel_w: int = 1
    stride: int = 1
    padding: int = 0
    padding_end: int | None = None  # the halo after the last row / column (None: ``padding``)
    # a GEMM M x K x N is batch=1, out_h=M, out_w=1, kernel 1x1, in_channels=K, out_channels=N

    def input_bytes(self, act_bits: int = 8) -> float:
        """Input tensor size with H = (out_h-1)*stride + kernel_h - both paddings (likewise W)."""
        pads = self.padding + (self.padding if self.padding_end is None else self.padding_end)
        h = (self.out_h - 1) * self.stride + self.kernel_h - pads
        w = (self.out_w - 1) * self.stride + self.kernel_w - pads
        return self.batch * self.in_channels * h * w * act_bits / 8


@dataclass(frozen=True)
class ZigZagResult:
    cycles: float  # ZigZag latency_total2: compute + stall + on/off-loading + systolic drain
    compute_cycles: float  # temporal cycles of the chosen spatial mapping (ideal_temporal_cycle)
    energy_pj: float
    mac_energy_pj: float
    energy_pj_by_level: dict  # registers, act_out_buffer, weight_buffer, dram
    dram_bytes: dict  # inputs, weights (read), outputs (final write), partial_sums (the rest)
    buffer_bytes: dict  # {buffer: {operand I/W/O: read + write bytes}}
    mapping: str
    seconds: float
    cycles_by_part: dict = field(default_factory=dict)  # ideal, compute, stall, onload, ...


def _yaml_workload(layer: ZigZagLayer, arch: ZigZagArch) -> list[dict]:
    s, p = layer.stride, layer.padding
    sizes = (layer.batch, layer.out_channels, layer.in_channels, layer.out_h, layer.out_w)
    node = {
        "id": 0,
        "name": layer.name,
        "operator_type": "Conv",
        "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
        "dimension_relations": [f"ix={s}*ox+1*fx", f"iy={s}*oy+1*fy"],
        "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
        "loop_sizes": [*sizes, layer.kernel_h, layer.kernel_w],
        "operand_precision": {"W": arch.weight_bits, "I": arch.act_bits,
                              "O": arch.accumulator_bits, "O_final": arch.output_bits},
        "operand_source": {"I": 0, "W": 0},  # both from DRAM: no producer layer
    }  # fmt: skip
    end = p if layer.padding_end is None else layer.padding_end
    if p or end:  # ZigZag subtracts the padding from the input extent it counts
        node.update(pr_loop_dims=["IY", "IX"], padding=[[p, end], [p, end]])
    return [node]


def _pixels(layer: ZigZagLayer, n: int) -> list[str]:
    """Output pixels over ``n`` PEs as OX x OY: the pair with the fewest temporal folds."""

    def folds(ox: int) -> tuple[int, int]:
        return -(-layer.out_w // ox) * -(-layer.out_h // min(layer.out_h, n // ox)), -ox

    ox = min(range(1, min(layer.out_w, n) + 1), key=folds)
    pairs = (("OX", ox), ("OY", min(layer.out_h, n // ox)))
    return [f"{d}, {f}" for d, f in pairs if f > 1] or ["OX, 1"]


def _reduction(layer: ZigZagLayer, arch: ZigZagArch, n: int) -> list[str]:
    """The reduction over ``n`` PEs: C, then (``im2col_rows``) a divisor of FY and as much of FX
    as fits, fractional if need be (ZigZag splits a non-divisor unrolling into uneven folds):
    our im2col view runs K = C x FY x FX down the rows, ceil(K / rows) folds."""
    c = min(layer.in_channels, n)
    out = [("C", c)]
    if arch.im2col_rows:
        room = n // c
        fy = max(d for d in range(1, min(layer.kernel_h, room) + 1) if layer.kernel_h % d == 0)
        out += [("FY", fy), ("FX", min(layer.kernel_w, room // fy))]
    return [f"{d}, {f}" for d, f in out if f > 1 or d == "C"]


def _yaml_mapping(layer: ZigZagLayer, arch: ZigZagArch, ordering=None) -> list[dict]:
    k, red = [f"K, {min(layer.out_channels, arch.cols)}"], _reduction(layer, arch, arch.rows)
    spatial = {
        "ws": lambda: {"D1": red, "D2": k},
        "os": lambda: {"D1": _pixels(layer, arch.rows), "D2": k},
        "is": lambda: {"D1": red, "D2": _pixels(layer, arch.cols)},
    }[arch.dataflow]()
    links = {"O": "O", "W": "I2", "I": "I1"}
    entry = {"name": "default", "spatial_mapping": spatial, "memory_operand_links": links}
    if ordering:  # a fixed loop nest, innermost first: ZigZag evaluates it instead of searching
        entry["temporal_ordering"] = [[dim, int(size)] for dim, size in ordering]
    return [entry]


def _ports(bw_min: int, bw_max: int, *groups: tuple[str, list[str]]) -> list[dict]:
    """Ports named r_port_i / w_port_i / rw_port_i, each ``(kind, allocations)``."""
    out, seen = [], {}
    for kind, alloc in groups:
        prefix = {"read": "r", "write": "w", "read_write": "rw"}[kind]
        seen[prefix] = seen.get(prefix, 0) + 1
        name = f"{prefix}_port_{seen[prefix]}"
        out.append({"name": name, "type": kind, "bandwidth_min": bw_min,
                    "bandwidth_max": bw_max, "allocation": alloc})  # fmt: skip
    return out


def _mem(bits: int, r: float, w: float, ops: list[str], ports: list[dict], per_pe: bool) -> dict:
    return {"size": bits, "r_cost": r, "w_cost": w, "area": 0, "latency": 1, "operands": ops,
            "ports": ports, "served_dimensions": [] if per_pe else ["D1", "D2"]}  # fmt: skip


def _yaml_accelerator(arch: ZigZagArch) -> dict:
    def reg(bits: int, op: str) -> dict:
        e = bits * arch.register_pj_per_bit  # one access = the whole word
        if op == "O":
            ports = _ports(bits, bits, ("read", ["O, tl"]), ("read", ["O, th"]),
                           ("write", ["O, fh"]), ("write", ["O, fl"]))  # fmt: skip
        else:
            ports = _ports(bits, bits, ("read", [f"{op}, tl"]), ("write", [f"{op}, fh"]))
        return _mem(bits, e, e, [op], ports, per_pe=True)

    sram, dram = arch.sram_bytes_per_cycle * 8, max(8, round(arch.dram_bytes_per_cycle * 8))
    mems = {"w_reg": reg(arch.weight_bits, "I2")}
    if arch.input_register:
        mems["in_reg"] = reg(arch.act_bits, "I1")
    mems["acc_reg"] = reg(arch.accumulator_bits, "O")
    w_ports = _ports(8, sram, ("read", ["I2, tl"]), ("write", ["I2, fh"]))
    mems["weight_buffer"] = _mem(arch.weight_buffer_bytes * 8,
                                 arch.weight_read_pj_per_byte * sram / 8,
                                 arch.weight_write_pj_per_byte * sram / 8,
                                 ["I2"], w_ports, per_pe=False)  # fmt: skip
    rd, wr = ["I1, tl", "O, tl", "O, th"], ["I1, fh", "O, fh", "O, fl"]
    if arch.split_act_out_ports:
        groups = [("read", rd[:1]), ("read", rd[1:]), ("write", wr[:1]), ("write", wr[1:])]
    else:
        groups = [("read", rd), ("write", wr)]
    mems["act_out_buffer"] = _mem(arch.act_out_buffer_bytes * 8,
                                  arch.act_out_read_pj_per_byte * sram / 8,
                                  arch.act_out_write_pj_per_byte * sram / 8,
                                  ["I1", "O"], _ports(8, sram, *groups), per_pe=False)  # fmt: skip
    alloc = [f"{op}, {d}" for op in ("I1", "I2") for d in ("fh", "tl")]
    alloc += [f"O, {d}" for d in ("fh", "tl", "fl", "th")]
    e = arch.dram_pj_per_bit * dram
    ports = _ports(8, dram, ("read_write", alloc))
    mems["dram"] = _mem(10**13, e, e, ["I1", "I2", "O"], ports, per_pe=False)
    array = {"unit_energy": arch.mac_pj, "unit_area": 1, "dimensions": ["D1", "D2"],
             "sizes": [arch.rows, arch.cols], "systolic_dimensions": ["D1", "D2"]}  # fmt: skip
    name = f"tasder_{arch.dataflow}_{arch.rows}x{arch.cols}"
    return {"name": name, "memories": mems, "operational_array": array}


def _moved_bits(cme, op, lvl: int) -> dict:
    """Bits per direction moved at memory level ``lvl`` of layer operand ``op``, all instances."""
    from zigzag.hardware.architecture.memory_port import DataDirection
    from zigzag.mapping.data_movement import DataMoveAttr

    dm = cme.mapping.unit_mem_data_movement[op][lvl]
    count = dm.get_attribute(DataMoveAttr.DATA_ELEM_MOVE_COUNT)
    prec = dm.get_attribute(DataMoveAttr.DATA_PRECISION)
    return {d.value: count.get(d) * prec.get(d) for d in DataDirection}


def _mapping_text(cme) -> str:
    from zigzag.mapping.utils import get_spatial_loops, get_temporal_loops

    ops = [op.name for op in cme.layer.memory_operand_links.layer_operands]
    spatial = " x ".join(f"{d.name}{r[1]}" for d, r, _ in get_spatial_loops(cme))
    loops = [
        f"{d.name}{r[1]}[" + " ".join(f"{o}@{m}" for o, m in zip(ops, mems)) + "]"
        for d, r, mems in reversed(get_temporal_loops(cme))
    ]
    return f"spatial {spatial}; temporal outer->inner: " + ", ".join(loops)


def _parse(cme, arch: ZigZagArch, seconds: float) -> ZigZagResult:
    by_level: dict[str, float] = {"registers": 0.0}
    buffers: dict[str, dict[str, float]] = {}
    dram: dict[str, dict] = {}
    for op in cme.layer.layer_operands:
        mem_op = cme.memory_operand_links.layer_to_mem_op(op)
        levels = cme.accelerator.memory_hierarchy.get_memory_levels(mem_op)
        for i, level in enumerate(levels[: cme.mapping.mem_level[op]]):
            name = "registers" if level.name in _REGS else level.name
            by_level[name] = by_level.get(name, 0.0) + float(cme.mem_energy_breakdown[op][i])
            bits = _moved_bits(cme, op, i)
            if name.endswith("_buffer"):
                buffers.setdefault(name, {})[op.name] = sum(bits.values()) / 8
            elif name == "dram":
                dram[op.name] = {d: b / 8 for d, b in bits.items()}
    o = cme.layer.output_operand.name
    final = cme.layer.operand_size_elem[cme.layer.output_operand] * arch.output_bits / 8
    written, read_back = dram[o]["wr_in_by_low"], dram[o]["rd_out_to_low"]
    dram_bytes = {
        "inputs": dram[cme.layer.get_act_layer_op().name]["rd_out_to_low"],
        "weights": dram[cme.layer.get_weight_layer_op().name]["rd_out_to_low"],
        "outputs": min(written, final),
        "partial_sums": written + read_back - min(written, final),
    }
    parts = (("ideal", "ideal_cycle"), ("compute", "ideal_temporal_cycle"),  # ideal: MACs/PEs
             ("stall", "stall_slack_comb"), ("onload", "data_onloading_cycle"),
             ("offload", "data_offloading_cycle"),
             ("systolic_drain", "systolic_drain_cycle"))  # fmt: skip
    return ZigZagResult(
        cycles=float(cme.latency_total2),
        compute_cycles=float(cme.ideal_temporal_cycle),
        energy_pj=float(cme.energy_total),
        mac_energy_pj=float(cme.mac_energy),
        energy_pj_by_level=by_level,
        dram_bytes=dram_bytes,
        buffer_bytes=buffers,
        mapping=_mapping_text(cme),
        seconds=seconds,
        cycles_by_part={k: float(getattr(cme, a)) for k, a in parts},
    )


def _write_inputs(layer: ZigZagLayer, arch: ZigZagArch, workdir: Path, ordering) -> dict:
    """The workload, mapping and accelerator YAMLs ZigZag reads, written into ``workdir``."""
    import yaml

    workdir.mkdir(parents=True, exist_ok=True)
    documents = {
        "workload": _yaml_workload(layer, arch),
        "mapping": _yaml_mapping(layer, arch, ordering),
        "accelerator": _yaml_accelerator(arch),
    }
    files = {}
    for key, document in documents.items():
        files[key] = workdir / f"{key}.yaml"
        files[key].write_text(yaml.safe_dump(document, sort_keys=False))
    return files


def run_zigzag(
    layer: ZigZagLayer,
    arch: ZigZagArch,
    workdir: Path,
    *,
    opt: str = "latency",
    lpf_limit: int = 6,
    temporal_ordering=None,
) -> ZigZagResult:
    """Write workload/accelerator/mapping YAMLs into ``workdir``, let ZigZag find the best
    ``opt`` ('latency', 'energy' or 'EDP') temporal mapping with LOMA, and parse it.
    ``temporal_ordering``: ``(dim, size)`` loops, innermost first, to evaluate instead. The stages
    are ``zigzag.api``'s without its savers (json, pickle, png): only the YAMLs are written,
    nothing is printed and zigzag's logging is muted."""
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.stages.evaluation.cost_model_evaluation import CostModelStage
    from zigzag.stages.main import MainStage
    from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage
    from zigzag.stages.mapping.temporal_mapping_generator_stage import (
        TemporalMappingGeneratorStage,
    )
    from zigzag.stages.parser.accelerator_parser import AcceleratorParserStage
    from zigzag.stages.parser.workload_parser import WorkloadParserStage
    from zigzag.stages.results import reduce_stages as rs
    from zigzag.stages.workload_iterator import WorkloadStage

    pick = {"latency": rs.MinimalLatencyStage, "energy": rs.MinimalEnergyStage}
    pick = pick.get(opt, rs.MinimalEDPStage if opt == "EDP" else None)
    if pick is None:
        raise ValueError(f"opt must be 'latency', 'energy' or 'EDP', not {opt!r}")
    files = _write_inputs(layer, arch, Path(workdir), temporal_ordering)
    main = MainStage(
        [WorkloadParserStage, AcceleratorParserStage, WorkloadStage, pick,
         SpatialMappingGeneratorStage, pick, TemporalMappingGeneratorStage, CostModelStage],
        **{key: str(path) for key, path in files.items()},
        dump_folder=str(Path(workdir) / "dump"),
        loma_lpf_limit=lpf_limit,
        loma_show_progress_bar=False,
        nb_mappings_generated=1,
        enable_mix_spatial_mapping_generation=False,
        access_same_data_considered_as_no_access=True,  # as zigzag.api
        temporal_mapping_type=TemporalMappingType("uneven"),
    )  # fmt: skip
    log = logging.getLogger("zigzag")
    level, start = log.level, time.perf_counter()
    log.setLevel(logging.CRITICAL + 1)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            answers = main.run()
    finally:
        log.setLevel(level)
    return _parse(answers[0][0], arch, time.perf_counter() - start)


if __name__ == "__main__":
    import sys
    import tempfile

    dataflow = sys.argv[1] if len(sys.argv) > 1 else "ws"
    arch = ZigZagArch(32, 32, dataflow, 256 * 1024, 128 * 1024, 4.46, 4.95, 4.0, 3.3, 8.0, 0.561,
                      0.009)  # fmt: skip
    layer = ZigZagLayer("resnet50_conv2_3x3", 1, 64, 64, 56, 56, 3, 3, 1, 1)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_zigzag(layer, arch, Path(tmp))
    for key, value in vars(result).items():
        print(f"{key:20s} {value}")
    print(f"{'input tensor bytes':20s} {layer.input_bytes()}")
