"""Drive SCALE-Sim v3 (PyPI ``scalesim`` 3.0.0) on conv and GEMM layers: cycles and traffic.

Each layer runs as its own SCALE-Sim invocation (its own folder under ``workdir``), in CALC
("estimate bandwidth") mode, so the reports give the traffic of SCALE-Sim's fixed schedule with
no DRAM bandwidth limit. Known pitfalls of 3.0.0, handled or documented here:

- ``get_total_cycles()`` is broken; per-layer reports are read from
  ``runner.single_layer_sim_object_list[i]`` (``get_compute_report_items()`` and
  ``get_detail_report_items()``).
- Config files need every section; SRAM sizes are whole kB; the word size is fixed at one byte
  (counts are words: we pass SRAM capacities in words and scale the counts by ``word_bytes``).
- No padding: give it the input extent ``(H_out - 1) * stride + kernel``.
- A conv layer whose name contains ``DP`` is split into depthwise layers: names are not passed.
- CALC-mode read buffers never stall (stall cycles are 0) and dedupe addresses only within a
  window of 50 * floor(words / 100) words (about half the SRAM) that is flushed whole: an input
  that fits it is read from DRAM once; a larger one is read once per im2col element per column
  fold (the whole M x K operand per column fold; for a 1x1 conv, the input per column fold).
- WS and IS write every partial sum out once per row fold: ofmap DRAM writes are
  M * N * ceil(K_eff / rows) (+ up to cols - 1 words), not the output size; OS writes it once.
- ``total_cycles`` (report item 0) adds to the compute cycles the first fill of the read buffers
  at CALC's arbitrary 10 words/cycle and the last ofmap drain: not a latency.
- Sparse mode (``n:m`` on weights, along K) applies one mask to every filter: use it for compute
  cycles only, not for its DRAM counts. USER bandwidth mode prefetches the im2col matrix with
  duplicates: not used. It needs numpy < 2.4.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_CONFIG = """[general]
run_name = tasder

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
IfmapSramSzkB = {ifmap_kb}
FilterSramSzkB = {filter_kb}
OfmapSramSzkB = {ofmap_kb}
IfmapOffset = 0
FilterOffset = 100000000
OfmapOffset = 200000000
Bandwidth = 10
Dataflow = {dataflow}
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = {sparse}
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 4
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False
"""
_OPERAND_SPACE = 100_000_000  # words between the operands' address offsets above


@dataclass(frozen=True)
class ScaleSimArch:
    """Systolic array and its three double-buffered SRAMs (bytes, whole kB of words)."""

    rows: int
    cols: int
    dataflow: str  # 'ws' | 'os' | 'is'
    ifmap_sram_bytes: int
    filter_sram_bytes: int
    ofmap_sram_bytes: int
    word_bytes: int = 1  # int8


@dataclass(frozen=True)
class ScaleSimLayer:
    """A conv layer as SCALE-Sim sees it (no padding: ``in_h``/``in_w`` include any halo)."""

    name: str
    in_h: int
    in_w: int
    kernel_h: int
    kernel_w: int
    in_channels: int
    out_channels: int
    stride: int
    sparsity: str = "1:1"  # layer-wise N:M on weights; compute cycles only


@dataclass(frozen=True)
class ScaleSimResult:
    """One layer's report. Bytes are SCALE-Sim's word counts times ``word_bytes``."""

    name: str
    compute_cycles: int  # get_compute_report_items()[1] (the project's formula is this + 1)
    total_cycles: int | None  # items[0]: from the first DRAM prefetch to the last ofmap drain
    dram_bytes: dict  # {"inputs", "weights", "outputs"}: ifmap/filter reads, ofmap writes
    sram_bytes: dict  # {"inputs", "weights", "outputs"}: array reads / writes of the SRAMs
    extra: dict  # stall cycles, utilisation, mapping efficiency, CALC bandwidths, seconds


def _sparsity(text: str) -> tuple[int, int]:
    try:
        n, m = (int(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"sparsity must be 'n:m', got {text!r}") from None
    if not 0 < n <= m:
        raise ValueError(f"sparsity must have 0 < n <= m, got {text!r}")
    return n, m


def _config(arch: ScaleSimArch, sparse: bool) -> str:
    if arch.dataflow not in ("ws", "os", "is"):
        raise ValueError(f"dataflow must be 'ws', 'os' or 'is', got {arch.dataflow!r}")
    if arch.rows < 1 or arch.cols < 1 or arch.word_bytes < 1:
        raise ValueError("rows, cols and word_bytes must be positive")
    kbs = {}
    for key in ("ifmap", "filter", "ofmap"):
        size = getattr(arch, f"{key}_sram_bytes")
        unit = 1024 * arch.word_bytes
        if size < unit or size % unit:
            raise ValueError(f"{key}_sram_bytes must be a positive multiple of {unit} (whole kB)")
        kbs[f"{key}_kb"] = size // unit
    return _CONFIG.format(
        rows=arch.rows, cols=arch.cols, dataflow=arch.dataflow, sparse=str(sparse).lower(), **kbs
    )


def _run_one(row: str, header: str, gemm: bool, sparse: bool, arch: ScaleSimArch, folder: Path):
    """Run one topology row; returns the simulated layer object and the seconds it took."""
    from scalesim.scale_sim import scalesim

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hw.cfg").write_text(_config(arch, sparse))
    (folder / "layout.csv").write_text("Layer, unused\n")
    (folder / "topology.csv").write_text(header + row)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        sim = scalesim(
            save_disk_space=True,
            verbose=False,
            config=str(folder / "hw.cfg"),
            topology=str(folder / "topology.csv"),
            layout=str(folder / "layout.csv"),
            input_type_gemm=gemm,
        )
        sim.run_scale(top_path=str(folder))
    (layer,) = sim.runner.single_layer_sim_object_list
    return layer, time.perf_counter() - start


def _result(name: str, layer, seconds: float, word_bytes: int) -> ScaleSimResult:
    comp = layer.get_compute_report_items()
    det = layer.get_detail_report_items()
    bw = layer.get_bandwidth_report_items()  # words/cycle; a metadata entry when sparse
    ifmap_sram, filter_sram, ofmap_sram = det[2], det[5], det[8]
    ifmap_dram, filter_dram, ofmap_dram = det[11], det[14], det[17]
    keys = ("ifmap_sram", "filter_sram", "ofmap_sram", "ifmap_dram", "filter_dram", "ofmap_dram")
    bw_sram, bw_dram = (bw[:2] + bw[-4:-3], bw[-3:]) if len(bw) == 7 else (bw[:3], bw[3:])
    extra = {
        "stall_cycles": int(comp[2]),
        "overall_util_pct": float(comp[3]),
        "mapping_eff_pct": float(comp[4]),
        "compute_util_pct": float(comp[5]),
        "avg_bw_words_per_cycle": dict(zip(keys, [float(x) for x in bw_sram + bw_dram])),
        "dram_start_stop_cycles": {
            "inputs": (int(det[9]), int(det[10])),
            "weights": (int(det[12]), int(det[13])),
            "outputs": (int(det[15]), int(det[16])),
        },
        "filter_metadata_words": int(layer.metadata_reads),
        "sim_seconds": seconds,
    }
    return ScaleSimResult(
        name=name,
        compute_cycles=int(comp[1]),
        total_cycles=int(comp[0]),
        dram_bytes={
            "inputs": int(ifmap_dram) * word_bytes,
            "weights": int(filter_dram) * word_bytes,
            "outputs": int(ofmap_dram) * word_bytes,
        },
        sram_bytes={
            "inputs": int(round(ifmap_sram)) * word_bytes,
            "weights": int(filter_sram) * word_bytes,
            "outputs": int(ofmap_sram) * word_bytes,
        },
        extra=extra,
    )


def run_conv(
    layers: Sequence[ScaleSimLayer], arch: ScaleSimArch, workdir: Path
) -> list[ScaleSimResult]:
    """Conv topology rows (``Layer, IFMAP H, IFMAP W, Filter H, Filter W, Channels, Num Filter,
    Strides, Sparsity,``); ``in_h``/``in_w`` are the (padded) extents SCALE-Sim convolves."""
    header = (
        "Layer, IFMAP H, IFMAP W, Filter H, Filter W, Channels, Num Filter, Strides, Sparsity,\n"
    )
    out = []
    for i, lay in enumerate(layers):
        n, m = _sparsity(lay.sparsity)
        dims = (lay.in_h, lay.in_w, lay.kernel_h, lay.kernel_w)
        if min(dims + (lay.in_channels, lay.out_channels, lay.stride)) < 1:
            raise ValueError(f"{lay.name}: dimensions must be positive")
        if lay.kernel_h > lay.in_h or lay.kernel_w > lay.in_w:
            raise ValueError(f"{lay.name}: kernel larger than the input extent")
        if max(lay.in_h * lay.in_w * lay.in_channels, _weights(lay)) >= _OPERAND_SPACE:
            raise ValueError(f"{lay.name}: operand too large for the address map")
        row = f"l{i}, {', '.join(map(str, dims))}, {lay.in_channels}, {lay.out_channels}, "
        row += f"{lay.stride}, {n}:{m},\n"
        layer, secs = _run_one(row, header, False, n != m, arch, Path(workdir) / f"l{i}")
        out.append(_result(lay.name, layer, secs, arch.word_bytes))
    return out


def _weights(lay: ScaleSimLayer) -> int:
    return lay.kernel_h * lay.kernel_w * lay.in_channels * lay.out_channels


def run_gemm(
    layers: Sequence[tuple[str, int, int, int, str]], arch: ScaleSimArch, workdir: Path
) -> list[ScaleSimResult]:
    """GEMM rows ``(name, M, N, K, "n:m")``: O[M,N] = A[M,K] . W[K,N], N:M along K on W."""
    header = "Layer, M, N, K, Sparsity,\n"
    out = []
    for i, (name, m_dim, n_dim, k_dim, sparsity) in enumerate(layers):
        n, m = _sparsity(sparsity)
        if min(m_dim, n_dim, k_dim) < 1:
            raise ValueError(f"{name}: M, N and K must be positive")
        if max(m_dim * k_dim, k_dim * n_dim) >= _OPERAND_SPACE:
            raise ValueError(f"{name}: operand too large for the address map")
        row = f"l{i}, {m_dim}, {n_dim}, {k_dim}, {n}:{m},\n"
        layer, secs = _run_one(row, header, True, n != m, arch, Path(workdir) / f"l{i}")
        out.append(_result(name, layer, secs, arch.word_bytes))
    return out
