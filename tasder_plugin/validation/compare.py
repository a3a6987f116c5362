"""One layer through the analytic cost model, SCALE-Sim and ZigZag, on matched hardware.

The hardware is a :class:`~tasder_plugin.hardware.HardwareSpec` with a ``ws``/``os``/``is``
array (e.g. ``vegeta``). The simulators get its array, the usable (half, if double-buffered)
bytes of its buffers (neither simulator double-buffers; SCALE-Sim gets the full sizes, as its
own read buffers dedupe within about half of each SRAM) and its per-access energies (ZigZag).
A weight pattern ``n:m`` runs in both simulators as the dense layer with the kept reduction
slots (SCALE-Sim's layer-wise sparsity; ZigZag: K_eff = floor(C/m).n + min(n, C mod m)
channels per tap), so only its cycles and weight bytes are comparable; its input is not (the
stand-in layer reads n/m of the channels, the sparse one reads them all).
ZigZag searches the temporal mapping of least energy (``opt='energy'``), the mapping whose
traffic our tiling rule (least DRAM traffic) approximates; it gets separate input and output
ports (one shared port serialises them in whole cycles and doubles WS latency) and unrolls the
kernel taps with the channels on the rows, as our im2col view of K does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..hardware import Axis, HardwareSpec, estimate_cost, k_eff, load_hardware
from ..nn.plan import LayerPlan, ModelPlan
from ..profile import ConvGeometry, GemmRecord, ModelProfile
from ..tasd.patterns import NMPattern, TASDSeries

__all__ = ["Layer", "compare_layer", "model_cost", "LAYER_SET", "OUR_TILING"]


@dataclass(frozen=True)
class Layer:
    """A square conv of a ``batch x in_channels x size x size`` input, or (``gemm``) a GEMM of
    ``size`` rows of ``in_channels`` values by ``out_channels`` columns."""

    name: str
    in_channels: int
    out_channels: int
    size: int
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    gemm: bool = False
    batch: int = 1

    @property
    def out_size(self) -> int:
        return (self.size + 2 * self.padding - self.kernel) // self.stride + 1

    def record(self) -> GemmRecord:
        """The profile record this layer gets from :func:`~tasder_plugin.profile_model`."""
        if self.gemm:
            m, k, conv, shape = self.size, self.in_channels, None, (self.size, self.in_channels)
        else:
            o, kk = self.out_size, self.kernel
            m, k = self.batch * o * o, self.in_channels * kk * kk
            pair = lambda v: (v, v)  # noqa: E731
            conv = ConvGeometry(
                self.batch, self.in_channels, pair(self.size), pair(o), pair(kk),
                pair(self.stride), pair(self.padding), (1, 1), 1,
            )  # fmt: skip
            shape = (self.batch, self.in_channels, self.size, self.size)
        n = self.out_channels
        return GemmRecord(
            fqn=self.name, op="linear" if self.gemm else "conv2d", M=m, N=n, K=k, groups=1,
            macs=m * n * k, weight_numel=n * k, is_weight_gemm=True, input_density=1.0,
            input_block_nnz_hist={}, output_shape=(m, n), channels_per_group=self.in_channels,
            input_shape=shape, conv=conv,
        )  # fmt: skip

    def real_bytes(self, hw: HardwareSpec) -> dict[str, float]:
        """The real tensors: input, weights, final outputs."""
        r, b = self.record(), hw.bits
        return {
            "inputs": r.input_numel * b.activation / 8,
            "weights": r.N * r.K * b.weight / 8,
            "outputs": r.M * r.N * b.output / 8,
        }


# CIFAR ResNet-56 (stem, the three stages, the stride-2 convs), ResNet-50 (1x1, 3x3 per stage,
# the stride-2 1x1 projection), a BERT-base FFN GEMM (128 tokens)
LAYER_SET = (
    Layer("r56_stem", 3, 16, 32, 3, 1, 1),
    Layer("r56_s1_3x3", 16, 16, 32, 3, 1, 1),
    Layer("r56_s2_down", 16, 32, 32, 3, 2, 1),
    Layer("r56_s2_3x3", 32, 32, 16, 3, 1, 1),
    Layer("r56_s3_down", 32, 64, 16, 3, 2, 1),
    Layer("r56_s3_3x3", 64, 64, 8, 3, 1, 1),
    Layer("r50_1x1_56", 64, 64, 56),
    Layer("r50_3x3_56", 64, 64, 56, 3, 1, 1),
    Layer("r50_3x3_28", 128, 128, 28, 3, 1, 1),
    Layer("r50_3x3_14", 256, 256, 14, 3, 1, 1),
    Layer("r50_3x3_7", 512, 512, 7, 3, 1, 1),
    Layer("r50_1x1_s2", 256, 512, 56, 1, 2, 0),
    Layer("bert_ffn1", 768, 3072, 128, gemm=True),
)


# Where our tiling rule splits a dense layer on vegeta's buffers (128 KiB usable for inputs and
# outputs, 64 KiB for weights), its loop nest as ZigZag loops, innermost first (spatial: C32 on
# the rows, K32 on the columns), so ZigZag also prices our mapping, not only the one it finds:
# - r50_3x3_56: the 200 KB input in 2 row tiles with their halo rows (ours: 32 + 24 rows,
#   here 28 + 28), the 36 KB of weights resident, one output row of accumulators in flight;
# - r50_1x1_s2: the 200 KB of input pixels it reads in 2 row tiles (ours 17 + 11, here 14 + 14),
#   the 128 KB of weights in 2 chunks of 256 columns re-read per row tile (rows outer).
OUR_TILING = {
    ("r50_3x3_56", "dense"): (
        ("OX", 56), ("FX", 3), ("FY", 3), ("C", 2), ("OY", 28), ("K", 2), ("OY", 2),
    ),
    ("r50_1x1_s2", "dense"): (
        ("OX", 28), ("OY", 2), ("C", 8), ("OY", 7), ("K", 8), ("K", 2), ("OY", 2),
    ),
}  # fmt: skip


def model_cost(layer: Layer, pattern: str, hw: HardwareSpec):
    """Our :class:`~tasder_plugin.hardware.LayerCost` of ``layer`` with weights ``pattern``."""
    series = None if pattern == "dense" else TASDSeries.parse(pattern)
    plan = ModelPlan({layer.name: LayerPlan(series, None)})
    return estimate_cost(ModelProfile((layer.record(),)), plan, hw).per_layer[0]


def _kept_channels(layer: Layer, pattern: str) -> int:
    if pattern == "dense":
        return layer.in_channels
    p = NMPattern.parse(pattern)
    return k_eff(layer.in_channels, p.n, p.m)


def _zigzag(layer: Layer, pattern: str, hw: HardwareSpec, workdir: Path, lpf: int, ordering=None):
    from .zigzag import ZigZagArch, ZigZagLayer, run_zigzag

    act, w = hw.buffer_for("activations"), hw.buffer_for("weights")
    e, b = hw.energy, hw.bits
    pj = 1e12
    arch = ZigZagArch(
        hw.array.rows, hw.array.cols, hw.array.dataflow, int(act.usable_bytes),
        int(w.usable_bytes), act.read_j_per_byte.value_j * pj, act.write_j_per_byte.value_j * pj,
        w.read_j_per_byte.value_j * pj, w.write_j_per_byte.value_j * pj,
        hw.dram.j_per_bit.value_j * pj, e.mac_j.value_j * pj, e.register_j_per_bit.value_j * pj,
        act_bits=b.activation, weight_bits=b.weight, output_bits=b.output,
        accumulator_bits=b.accumulator, sram_bytes_per_cycle=int(act.bandwidth_bytes_per_cycle),
        dram_bytes_per_cycle=hw.dram.bandwidth_bytes_per_s / hw.clock_hz,
        split_act_out_ports=True, im2col_rows=True,
    )  # fmt: skip
    if layer.gemm:
        zl = ZigZagLayer(layer.name, 1, _kept_channels(layer, pattern), layer.out_channels,
                         layer.size, 1)  # fmt: skip
    else:
        o = layer.out_size
        axis = Axis(layer.size, o, layer.kernel, layer.stride, layer.padding)
        zl = ZigZagLayer(
            layer.name, layer.batch, _kept_channels(layer, pattern), layer.out_channels, o, o,
            layer.kernel, layer.kernel, layer.stride, layer.padding, axis.overhang,
        )  # fmt: skip
    r = run_zigzag(zl, arch, workdir, opt="energy", lpf_limit=lpf, temporal_ordering=ordering)
    return {
        "cycles": r.cycles,
        "compute_cycles": r.compute_cycles,
        "energy_j": r.energy_pj / pj,
        "energy_by_level_j": {k: v / pj for k, v in r.energy_pj_by_level.items()},
        "mac_energy_j": r.mac_energy_pj / pj,
        "dram_bytes": dict(r.dram_bytes),
        "buffer_bytes": r.buffer_bytes,
        "mapping": r.mapping,
        "seconds": r.seconds,
    }


def _scalesim(layer: Layer, pattern: str, hw: HardwareSpec, workdir: Path, swapped: bool):
    """SCALE-Sim's compute cycles (+1) and DRAM bytes: a conv topology, or a GEMM one for a
    GEMM and for a dense layer our model ran with its operands swapped (O^T = W^T A^T)."""
    from .scalesim import ScaleSimArch, ScaleSimLayer, run_conv, run_gemm

    act, w = hw.buffer_for("activations"), hw.buffer_for("weights")
    out = hw.buffer_for("outputs")
    arch = ScaleSimArch(
        hw.array.rows, hw.array.cols, hw.array.dataflow, act.size_bytes, w.size_bytes,
        out.size_bytes,
    )  # fmt: skip
    nm = "1:1" if pattern == "dense" else pattern
    if layer.gemm or swapped:
        r = layer.record()
        m, n = (r.N, r.M) if swapped else (r.M, r.N)
        (result,) = run_gemm([(layer.name, m, n, r.K, nm)], arch, workdir)
    else:
        extent = (layer.out_size - 1) * layer.stride + layer.kernel  # no padding in SCALE-Sim
        sl = ScaleSimLayer(
            layer.name, extent, extent, layer.kernel, layer.kernel, layer.in_channels,
            layer.out_channels, layer.stride, nm,
        )  # fmt: skip
        (result,) = run_conv([sl], arch, workdir)
    return {
        "compute_cycles": result.compute_cycles + 1,
        "dram_bytes": dict(result.dram_bytes),
        "gemm_swapped": swapped,
    }


def compare_layer(
    layer: Layer, pattern: str, hw: HardwareSpec | str, workdir: Path, *,
    scalesim: bool = True, zigzag: bool = True, lpf: int = 6, our_tiling=None,
) -> dict:  # fmt: skip
    """One row: our cycles, DRAM bytes by operand and energy beside each simulator's.

    SCALE-Sim's compute cycles get its documented +1 (our closed form is its count plus one).
    ``our_tiling``: the loop nest (``(dim, size)``, innermost first) of our tiling rule for this
    layer; ZigZag then also evaluates it (``zigzag_our_tiling``), which tells a difference of
    mapping (its search found another) from a difference of accounting.
    """
    hw = load_hardware(hw)
    ours = model_cost(layer, pattern, hw)
    row = {
        "layer": layer.name,
        "pattern": pattern,
        "M": ours.M,
        "N": ours.N,
        "K": ours.K,
        "real_bytes": layer.real_bytes(hw),
        "ours": {
            "compute_cycles": ours.compute_cycles,
            "cycles": ours.cycles,
            "bound": ours.bound,
            "energy_j": ours.energy_j,
            "energy_by_part_j": dict(ours.energy_breakdown_j),
            "dram_bytes": dict(ours.dram_bytes_by_operand),
            "weights_ran_as": ours.weights_ran_as,
            "transposed": ours.transposed,
        },
    }
    workdir = Path(workdir)
    if scalesim:
        row["scalesim"] = _scalesim(layer, pattern, hw, workdir / "scalesim", ours.transposed)
    if zigzag:
        row["zigzag"] = _zigzag(layer, pattern, hw, workdir / "zigzag", lpf)
        if our_tiling:
            row["zigzag_our_tiling"] = _zigzag(
                layer, pattern, hw, workdir / "zigzag_ours", lpf, our_tiling
            )
    return row
