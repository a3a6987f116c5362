"""Memory traffic by real tensors: every expected number is worked out by hand in the comments.

Buffers of the presets: ``global_buffer`` (activations + outputs, double-buffered: half usable),
``weight_buffer``, ``metadata_buffer``. int8 values, int32 accumulators.
"""

import dataclasses

import pytest

from tasder_plugin.hardware import DRAM_OPERANDS, estimate_cost
from tasder_plugin.nn.plan import LayerPlan, ModelPlan
from tasder_plugin.profile import ConvGeometry
from tasder_plugin.tasd import TASDSeries

from .conftest import conv_record, profile, record

PJ = 1e-12
SMALL_WS = {"array": {"rows": 2, "cols": 2, "dataflow": "ws", "tile": None}}


def plan(weights=None, activations=None, fqn="layer"):
    return ModelPlan({fqn: LayerPlan(weights, activations)})


def layer(rec, hw, weights=None, activations=None):
    return estimate_cost(profile(rec), plan(weights, activations), hw).per_layer[0]


def test_a_conv_input_that_fits_is_read_once_not_as_im2col(make_hw):
    # 3x3 stride-1 pad-1 conv of a 1x4x8x8 input: M = 64, K = 36; the im2col operand would
    # be 64 x 36 = 2304 bytes, the input tensor is 4 x 8 x 8 = 256 bytes
    cost = layer(conv_record(1, 4, 8, 8, 3), make_hw("dense"))
    assert cost.dram_bytes_by_operand == {
        "inputs": 256,
        "weights": 8 * 36,
        "metadata": 0,
        "outputs": 64 * 8,
        "partial_sums": 0,
    }
    assert cost.dram_bytes == sum(cost.dram_bytes_by_operand[k] for k in DRAM_OPERANDS)


def test_input_tiles_reread_their_halo(make_hw):
    # 16x16x4 -> 4, 3x3 pad 1, input 16 x 16 x 4 B = 1024 B. Usable global buffer 1280 / 2 =
    # 640 B. Row tiles only: one output row's accumulators, 16 outputs x min(N=4, cols=32) x
    # 4 B = 256 B, leave 384 B; h output rows need (h + 2) input rows of 64 B -> h = 4, 4 tiles
    # reading 5 + 6 + 6 + 5 rows (the zero halo at the borders is not read) = 22 rows: 1408 B.
    # Two column tiles of 8 outputs: accumulators 128 B leave 512 B; a tile row reads 10
    # columns (40 B) -> h = 10, 2 x 2 tiles reading 9 + 9 rows of 9 + 9 columns: 18 x 18 x 4 B
    # = 1296 B, the cheaper one
    hw = make_hw("dense", sizes={"global_buffer": 1280})
    cost = layer(conv_record(1, 4, 16, 4, 3), hw)
    assert cost.dram_bytes_by_operand["inputs"] == 18 * 18 * 4
    assert cost.dram_bytes_by_operand["weights"] == 4 * 36  # 144 B fit: read once
    assert cost.dram_bytes_by_operand["partial_sums"] == 0
    # with room for the whole input it is read exactly once
    whole = layer(conv_record(1, 4, 16, 4, 3), make_hw("dense"))
    assert whole.dram_bytes_by_operand["inputs"] == 16 * 64


def test_wide_rows_are_cut_into_column_tiles_not_split_along_k(make_hw):
    # 3x3 conv of 1 x 8 x 64 x 64, usable 1024 B: one output row's accumulators alone take
    # 64 x 8 x 4 = 2048 B, so rows are cut into t column tiles of w = ceil(64 / t) outputs:
    # w x 32 B of accumulators in flight, a tile row reads w + 2 columns x 8 B, h output rows
    # read h + 2 rows; the input is read as (62 + 2 row tiles) rows x (62 + 2 t) columns. The least:
    # t = 11 (w = 6: 832 B left, 64 B per tile row -> h = 11, 6 row tiles): 74 x 84 x 8 B;
    # t = 8 reads 82 x 78, t = 16 reads 70 x 94, t = 4 (h = 1) reads 190 x 70
    hw = make_hw("dense", sizes={"global_buffer": 2048})
    cost = layer(conv_record(1, 8, 64, 8, 3), hw)
    assert cost.dram_bytes_by_operand["partial_sums"] == 0
    assert cost.dram_bytes_by_operand["inputs"] == 74 * 84 * 8


def test_a_strided_1x1_conv_reads_only_the_pixels_it_uses(make_hw):
    # 1x1 stride 2 of 8x8x16 -> 4x4: rows 0, 2, 4, 6 and the same columns: 16 pixels x 16 B
    cost = layer(conv_record(1, 16, 8, 32, 1, stride=2, padding=0), make_hw("dense"))
    assert cost.dram_bytes_by_operand["inputs"] == 16 * 16


def test_weights_that_do_not_fit_stream_once_beside_a_resident_input(make_hw):
    # linear 4 x 64 -> 64: weights 4096 B in a 2048 B weight buffer (1024 usable): 4 chunks;
    # the 256 B input fits, so the columns go outer and each operand is read once
    hw = make_hw("dense", sizes={"weight_buffer": 2048})
    cost = layer(record(4, 64, 64, input_shape=(4, 64)), hw)
    assert cost.dram_bytes_by_operand["inputs"] == 256
    assert cost.dram_bytes_by_operand["weights"] == 4096


def test_when_neither_fits_the_cheaper_loop_order_wins(make_hw):
    # linear 64 x 64 -> 64 on a 2x2 WS array. Input rows of 64 B beside the accumulators of
    # one output row, 1 x min(64, 2) x 4 = 8 B: h <= 1016 / 64 -> 15 rows, 5 row tiles. W 4096 B in
    # 1024 usable: 4 chunks. Rows outer: 4096 + 5 x 4096 = 24576; columns outer: 4 x 4096 +
    # 4096 = 20480 -> columns outer
    sizes = {"global_buffer": 2048, "weight_buffer": 2048}
    hw = make_hw("dense", sizes=sizes, **SMALL_WS)
    cost = layer(record(64, 64, 64, input_shape=(64, 64)), hw)
    assert cost.dram_bytes_by_operand["inputs"] == 4 * 4096
    assert cost.dram_bytes_by_operand["weights"] == 4096


def test_k_is_split_only_when_one_column_cannot_fit_and_then_partial_sums_spill(make_hw):
    # linear 1 x 4096 -> 2: one weight column is 4096 B, 1024 usable: 8 chunks over 2
    # columns -> K in 4 pieces; the 1 x 2 int32 accumulators (8 B) spill 3 times, out and back
    hw = make_hw("dense", huge_buffers=True, sizes={"weight_buffer": 2048})
    cost = layer(record(1, 2, 4096, input_shape=(1, 4096)), hw)
    assert cost.dram_bytes_by_operand["partial_sums"] == 2 * 8 * 3
    assert cost.dram_bytes_by_operand["weights"] == 8192
    assert cost.dram_bytes_by_operand["inputs"] == 4096


def _schedule_hw(make_hw, schedule, **sizes):
    return make_hw("flex8", sizes=sizes, sparsity={"schedule": schedule})


def test_sequential_rereads_only_what_does_not_stay_on_chip(make_hw):
    rec = record(64, 64, 64, input_shape=(64, 64))
    series = TASDSeries.parse("2:4+2:4")  # two exact terms, K_eff = 32 each
    # everything fits: each term's 64 x 32 weights (2048 B) + 2-bit metadata (512 B) once, the
    # input once, partial sums between the kernels stay in the global buffer
    for schedule in ("sequential", "interleaved", "fused"):
        cost = layer(rec, _schedule_hw(make_hw, schedule), series)
        assert cost.dram_bytes_by_operand == {
            "inputs": 4096,
            "weights": 4096,
            "metadata": 1024,
            "outputs": 4096,
            "partial_sums": 0,
        }, schedule
    # a 2048 B global buffer (1024 usable) holds neither the 4096 B input nor the 16384 B of
    # accumulators: row tiles of (1024 - 32 x 4) / 64 = 14 rows; the weights stay resident,
    # so each job reads the input once. Sequential: two jobs, and the partial sums of term 1
    # go out and back (2 x 16384); interleaved: one job, both terms per output tile
    small = {"global_buffer": 2048}
    seq = layer(rec, _schedule_hw(make_hw, "sequential", **small), series)
    assert seq.dram_bytes_by_operand["inputs"] == 2 * 4096
    assert seq.dram_bytes_by_operand["partial_sums"] == 2 * 16384
    inter = layer(rec, _schedule_hw(make_hw, "interleaved", **small), series)
    assert inter.dram_bytes_by_operand["inputs"] == 4096
    assert inter.dram_bytes_by_operand["partial_sums"] == 0
    assert inter.dram_bytes_by_operand["weights"] == 4096


def test_interleaved_terms_share_the_accumulators_of_an_output_stationary_engine(make_hw):
    # tile engine (2of4), 16 x 64 -> 8 with 2:4+2:4 weights (two passes, K_eff 32). Per pass
    # the array reads 16 x 32 activations (512 B) once: ceil(8 / 32) block columns; the input
    # fill writes 16 x 64 = 1024 B. Accumulators 16 x 8 x 4 = 512 B, final outputs 128 B.
    # interleaved: one drain (write 512), no read-back; the outputs read once (128)
    # sequential: one drain per pass (write 2 x 512), one read-back (512)
    rec = record(16, 8, 64, input_shape=(16, 64))
    series = TASDSeries.parse("2:4+2:4")
    e = {
        s: layer(rec, make_hw("2of4", sparsity={"schedule": s}), series).energy_breakdown_j
        for s in ("interleaved", "sequential")
    }
    reads, writes = 4.46 * PJ, 4.95 * PJ
    assert e["interleaved"]["global_buffer"] == pytest.approx(
        (2 * 512 + 128) * reads + (1024 + 512) * writes
    )
    assert e["sequential"]["global_buffer"] == pytest.approx(
        (2 * 512 + 512 + 128) * reads + (1024 + 2 * 512) * writes
    )


def test_tile_engine_reuses_fragments_from_registers(make_hw):
    # dense tile engine, 64 x 64 -> 64: a 32 x 32 output block stays in registers, so each
    # activation fragment is read once per block column (ceil(64/32) = 2), each weight
    # fragment once per block row (2): 2 x 4096 B from each buffer, plus the 4096 B fills
    cost = layer(record(64, 64, 64, input_shape=(64, 64)), make_hw("dense"))
    assert cost.energy_breakdown_j["weight_buffer"] == pytest.approx(
        (2 * 4096 * 4.0 + 4096 * 3.3) * PJ
    )


def test_the_selector_decomposes_each_input_activation_once(make_hw):
    # TASD-A 2:4 on the 4 x 8 x 8 input of a 3x3 conv: 256 elements (not the 2304 of the
    # im2col view), each with 2 x 3 / 4 comparisons (0.0073 pJ) and 8 register bits (0.009 pJ)
    hw = make_hw("vegeta", huge_buffers=True)
    cost = layer(conv_record(1, 4, 8, 8, 3), hw, activations="2:4")
    assert cost.activations_ran_as == "2:4"
    expected = 256 * (1.5 * 0.0073 + 8 * 0.009) * PJ
    assert cost.energy_breakdown_j["selector"] == pytest.approx(expected)


def test_bound_names_what_sets_the_latency(make_hw):
    rec = record(4, 4, 8, input_shape=(4, 8))
    # ws 2x2: 64 compute cycles (see test_cost); 80 DRAM bytes at 1 B/cycle take 80
    slow_dram = make_hw(
        "dense", huge_buffers=True, dram={"bandwidth_bytes_per_s": 1.0e9}, **SMALL_WS
    )
    cost = layer(rec, slow_dram)
    assert cost.bound == "dram" and cost.cycles == 80
    assert layer(rec, make_hw("dense", huge_buffers=True, **SMALL_WS)).bound == "compute"
    slow_selector = make_hw(
        "vegeta", huge_buffers=True, selector={"elements_per_cycle": 0.01}, **SMALL_WS
    )
    cost = layer(rec, slow_selector, activations="2:4")
    assert cost.bound == "selector" and cost.cycles == pytest.approx(32 / 0.01)


def test_groups_images_and_activation_gemms_move_their_real_tensors(make_hw):
    hw = make_hw("dense")
    # depthwise 3x3 of 16 x 8 x 8: each of the 16 groups reads its own 64-pixel channel once
    geometry = ConvGeometry(1, 16, (8, 8), (8, 8), (3, 3), (1, 1), (1, 1), (1, 1), 16)
    depthwise = record(64, 16, 9, groups=16, row=1, conv=geometry, input_shape=(1, 16, 8, 8))
    cost = layer(depthwise, hw)
    assert cost.weights_ran_as == "dense"
    assert cost.dram_bytes_by_operand["inputs"] == 16 * 64
    assert cost.dram_bytes_by_operand["weights"] == 16 * 9
    assert cost.dram_bytes_by_operand["outputs"] == 16 * 64
    # two images of 4 x 8 x 8: both read once (whole images fit)
    batch = layer(conv_record(2, 4, 8, 8, 3), hw)
    assert batch.dram_bytes_by_operand["inputs"] == 2 * 256
    assert batch.dram_bytes_by_operand["outputs"] == 2 * 64 * 8
    # attention scores: 2 heads of (5 x 4) @ (4 x 7): both operands are activations
    scores = record(5, 2 * 7, 4, groups=2, weight=False, input_shape=(2, 5, 4))
    cost = estimate_cost(profile(scores), ModelPlan({}), hw).per_layer[0]
    assert cost.dram_bytes_by_operand["inputs"] == 2 * 5 * 4
    assert cost.dram_bytes_by_operand["weights"] == 2 * 4 * 7
    assert cost.dram_bytes_by_operand["outputs"] == 2 * 5 * 7


def test_a_dense_gemm_takes_the_faster_orientation_and_tasd_a_the_transposed_one():
    # vegeta (32x32 WS), a classifier at batch 1: M = 1, N = 1000, K = 2048.
    # As is: ceil(2048/32) ceil(1000/32) (64 + 32 + 1 - 2) = 194,560 cycles; swapped
    # (O^T = W^T A^T): 64 x ceil(1/32) x (64 + 32 + 1000 - 2) = 70,016: dense runs swapped
    fc = record(1, 1000, 2048, input_shape=(1, 2048))
    dense = layer(fc, "vegeta")
    assert dense.compute_cycles == 70016 and dense.transposed
    # TASD-A must run swapped (the compressed port): K_eff 1024 halves it exactly
    assert layer(fc, "vegeta", activations="2:4").compute_cycles == 32 * 1094
    # TASD-W keeps the weights on the compressed port: 32 x 32 x 95, slower than dense here
    weights = layer(fc, "vegeta", weights="2:4")
    assert weights.compute_cycles == 32 * 32 * 95 and not weights.transposed


def test_outputs_are_the_real_output_tensor():
    # a transposed conv's GEMM view (input pixels x output channels x taps) is 4x its output
    rec = record(32 * 32, 32 * 16, 64, input_shape=(1, 64, 32, 32))
    rec = dataclasses.replace(rec, output_shape=(1, 32, 64, 64))
    cost = layer(rec, "dense")
    assert cost.dram_bytes_by_operand["outputs"] == 32 * 64 * 64


def test_the_array_reads_only_the_kept_slots_of_either_dense_operand(make_hw):
    # TASD-A 2:4 on vegeta, 256^3, transposed: the dense weights are read at the 128 kept
    # slots of each row, 256 x 128 B, once per block... ws: the row operand (W^T here) once
    # per column fold, ceil(M / 32) = 8 folds; filled once from DRAM (256 x 256 B)
    hw = make_hw("vegeta", huge_buffers=True)
    cost = layer(record(256, 256, 256, input_shape=(256, 256)), hw, activations="2:4")
    assert cost.transposed
    expected = (8 * 256 * 128 * 4.0 + 256 * 256 * 3.3) * PJ
    assert cost.energy_breakdown_j["weight_buffer"] == pytest.approx(expected)


def test_sequential_kernels_keep_partial_sums_only_beside_the_input_tile(make_hw):
    # linear 8 x 256 -> 16, flex8 sequential, 2:4+2:4 weights; global buffer 3072 B (1536
    # usable). Input rows of 256 B beside one row of accumulators (64 B): 5-row tiles, 2 of
    # them: the 2048 B input does not stay. The 512 B of partial sums between the kernels do
    # not fit beside a 1280 B input tile: out and back once, 2 x 512 B
    hw = make_hw("flex8", sizes={"global_buffer": 3072}, sparsity={"schedule": "sequential"})
    cost = layer(record(8, 16, 256, input_shape=(8, 256)), hw, "2:4+2:4")
    assert cost.dram_bytes_by_operand["partial_sums"] == 2 * 512
    assert cost.dram_bytes_by_operand["inputs"] == 2 * 2048  # each kernel reads it


def test_a_refetched_input_is_decomposed_again_by_a_sequential_selector(make_hw):
    # s2ta run sequentially: weights 2:8+2:8 x activations 4:8 = 2 kernels on one activation
    # term; with the 64 x 256 input resident the selector runs once, refetched it runs twice
    rec = record(64, 64, 256, input_shape=(64, 256))
    plan_args = ("2:8+2:8", "4:8")
    sequential = {"sparsity": {"schedule": "sequential"}}
    resident = layer(rec, make_hw("s2ta", huge_buffers=True, **sequential), *plan_args)
    small = make_hw("s2ta", sizes={"global_buffer": 8192}, **sequential)
    refetched = layer(rec, small, *plan_args)
    assert refetched.dram_bytes_by_operand["inputs"] == 2 * resident.dram_bytes_by_operand["inputs"]
    assert refetched.energy_breakdown_j["selector"] == pytest.approx(
        2 * resident.energy_breakdown_j["selector"]
    )


def test_a_sparse_tensor_core_compresses_its_row_operand():
    # 2of4 (compressed_port: row, mma.sp's A): 2:4 weights go on the row port, so the GEMM is
    # swapped (W^T streams 1000 rows); a classifier at batch 1 (M = 1, K = 2048) then takes
    # ceil(1000/16) ceil(1/8) ceil(1024/8) + 32 = 63 x 128 + 32 cycles, half of dense's best
    # orientation (63 x 256 + 32); 2:4 activations sit on that port unswapped
    fc = record(1, 1000, 2048, input_shape=(1, 2048))
    weights = layer(fc, "2of4", weights="2:4")
    assert weights.transposed and weights.compute_cycles == 63 * 128 + 32
    assert layer(fc, "2of4").compute_cycles == 63 * 256 + 32
    assert not layer(fc, "2of4", activations="2:4").transposed
