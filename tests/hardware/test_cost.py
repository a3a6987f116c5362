"""Hand-computed costs: every expected number below is worked out in the comments."""

import pytest

from tasder_plugin.hardware import cover, estimate_cost, k_eff, load_hardware, metadata_bits
from tasder_plugin.nn.plan import LayerPlan, ModelPlan
from tasder_plugin.tasd import NMPattern, TASDSeries

from .conftest import profile, record

PJ = 1e-12
SMALL_WS = {"array": {"rows": 2, "cols": 2, "dataflow": "ws", "tile": None}}


def plan(weights=None, activations=None, fqn="layer"):
    return ModelPlan({fqn: LayerPlan(weights, activations)})


def test_cover_rule():
    p = NMPattern.parse
    assert cover(p("1:4"), [p("2:4")]) == p("2:4")  # same m, n* >= n
    assert cover(p("1:8"), [p("2:4")]) == p("2:4")  # m* | m: n* >= min(n, m*)
    assert cover(p("3:8"), [p("2:4")]) is None
    assert cover(p("1:2"), [p("2:4")]) == p("2:4")  # m | m*: n* >= n.m*/m
    assert cover(p("1:4"), [p("4:8"), p("2:4"), p("1:4")]) == p("1:4")  # cheapest wins
    assert k_eff(33, 2, 4) == 17 and k_eff(33, 1, 8) == 5 and k_eff(16, 4, 4) == 16
    assert k_eff(24, 2, 4, row=3) == 8 * 2  # 8 rows of 3 channels: one tail block of <=2 each


def test_metadata_bits_per_kept_value():
    p = NMPattern.parse
    assert metadata_bits("coordinate", p("2:4")) == 2.0
    assert metadata_bits("coordinate", p("1:8")) == 3.0
    assert metadata_bits("bitmap", p("2:4")) == 2.0  # 4 bitmap bits per 2 kept values
    assert metadata_bits("coordinate", None) == 0.0


def test_dense_layer_energy_by_hand(make_hw):
    hw = make_hw("dense", huge_buffers=True, **SMALL_WS)
    cost = estimate_cost(profile(record(4, 4, 8)), plan(), hw).per_layer[0]
    # ws 2x2: ceil(8/2) * ceil(4/2) * (2*2 + 2 + 4 - 2) = 4 * 2 * 8
    assert cost.compute_cycles == 64
    e = cost.energy_breakdown_j
    assert e["mac"] == pytest.approx(128 * 0.561 * PJ)  # 4*4*8 MACs, input density 1
    # per MAC: int8 W and A read, int32 accumulator read and written: 8 + 8 + 2 x 32 bits
    assert e["registers"] == pytest.approx(128 * 80 * 0.009 * PJ)
    # activations: 32 B written once from DRAM, read ceil(N/C) = 2 times; outputs: 64 B of
    # int32 partial sums written per K fold (4 folds), read back 3 times, 16 B int8 drained
    assert e["global_buffer"] == pytest.approx(((64 + 3 * 64 + 16) * 4.46 + (32 + 256) * 4.95) * PJ)
    assert e["weight_buffer"] == pytest.approx((32 * 4.0 + 32 * 3.3) * PJ)  # W stationary
    assert e["dram"] == pytest.approx((32 + 32 + 16) * 8 * 8 * PJ)  # W, A in; O out; 8 pJ/bit
    assert e["metadata"] == 0 and e["selector"] == 0
    assert cost.energy_j == pytest.approx(sum(e.values()))


def test_memory_bound_latency(make_hw):
    hw = make_hw("dense", huge_buffers=True, dram={"bandwidth_bytes_per_s": 1.0e9}, **SMALL_WS)
    cost = estimate_cost(profile(record(4, 4, 8)), plan(), hw)
    # 80 DRAM bytes at 1 B/cycle (1 GB/s, 1 GHz) outlast the 64 compute cycles
    assert cost.per_layer[0].compute_cycles == 64
    assert cost.cycles == 80 and cost.latency_s == pytest.approx(80e-9)


def test_weight_metadata_and_gated_macs(make_hw):
    hw = make_hw("flex8", huge_buffers=True, **SMALL_WS)
    cost = estimate_cost(profile(record(4, 4, 16, density=0.5)), plan("1:8"), hw).per_layer[0]
    assert cost.weights_ran_as == "1:8" and cost.reasons == ()
    # K_eff = 2: ceil(2/2) * ceil(4/2) * 8 cycles; 4*4*2 MAC slots, half with a zero activation
    assert cost.compute_cycles == 16
    assert cost.energy_breakdown_j["mac"] == pytest.approx(32 * (0.5 * 0.561 + 0.5 * 0.018) * PJ)
    # 4 columns x 2 kept values x 3 bits = 3 bytes: DRAM once, buffer write once, read once
    meta = 3 * 8 * 8 * PJ + 3 * 3.2 * PJ + 3 * 3.2 * PJ
    assert cost.energy_breakdown_j["metadata"] == pytest.approx(meta)


def test_sub_pattern_costs_the_covering_pattern():
    prof = profile(record(64, 64, 256))
    one = estimate_cost(prof, plan("1:4"), "2of4")
    two = estimate_cost(prof, plan("2:4"), "2of4")
    assert one.per_layer[0].weights_ran_as == "2:4"
    assert "W: term 1:4 ran as 2:4 (cover rule)" in one.per_layer[0].reasons
    assert one.compute_cycles == two.compute_cycles and one.energy_j == pytest.approx(two.energy_j)


def test_exact_two_term_series_on_2of4_gives_no_speedup():
    prof = profile(record(256, 256, 256))
    dense = estimate_cost(prof, plan(), "2of4")
    series = estimate_cost(prof, plan("2:4+2:4"), "2of4")
    assert series.per_layer[0].passes == 2
    assert series.compute_cycles >= dense.compute_cycles
    assert series.vs(dense).speedup <= 1.0


def test_uncoverable_term_runs_the_side_dense_or_raises_when_strict():
    prof = profile(record(64, 64, 64))
    cost = estimate_cost(prof, plan("2:4+3:8"), "2of4").per_layer[0]
    assert cost.weights_ran_as == "dense" and cost.passes == 1
    assert any("3:8 has no cover" in r for r in cost.reasons)
    with pytest.raises(ValueError, match=r"'layer' cannot run exactly on '2of4'.*3:8"):
        estimate_cost(prof, plan("2:4+3:8"), "2of4", strict=True)
    with pytest.raises(ValueError, match=r"1:4 ran as 2:4"):
        estimate_cost(prof, plan("1:4"), "2of4", strict=True)
    with pytest.raises(ValueError, match="one compressed operand per layer"):
        estimate_cost(prof, plan("2:4", "2:4"), "vegeta", strict=True)


def test_one_sided_hardware_runs_tasd_a_transposed(make_hw):
    hw = make_hw("vegeta", huge_buffers=True, **SMALL_WS)
    cost = estimate_cost(profile(record(6, 4, 8)), plan(None, "2:4"), hw).per_layer[0]
    assert cost.transposed and cost.activations_ran_as == "2:4"
    # O^T = W^T A^T: M and N swap; K_eff = 4: ceil(4/2) * ceil(6/2) * (4 + 2 + 4 - 2)
    assert cost.compute_cycles == 2 * 3 * 8
    # selector: 6*8 elements x (2*3/4 comparisons x 0.0073 pJ + 8 register bits x 0.009 pJ)
    assert cost.energy_breakdown_j["selector"] == pytest.approx(48 * (1.5 * 0.0073 + 72e-3) * PJ)


def test_both_sides_on_one_sided_hardware_keep_the_sparser_side():
    cost = estimate_cost(profile(record(64, 64, 64)), plan("2:4", "1:4"), "vegeta").per_layer[0]
    assert cost.activations_ran_as == "1:4" and cost.weights_ran_as == "dense"
    assert "one compressed operand per layer: W ran dense" in cost.reasons


def test_dual_side_passes_are_every_pair(make_hw):
    hw = make_hw("s2ta", huge_buffers=True, array={"rows": 2, "cols": 2, "dataflow": "os"})
    series_w, series_a = TASDSeries.parse("2:8+2:8"), TASDSeries.parse("4:8+1:8")
    cost = estimate_cost(profile(record(4, 4, 16)), plan(series_w, series_a), hw).per_layer[0]
    assert cost.passes == 4
    # os: ceil(4/2) * ceil(4/2) * (K_a + 2 + 2 - 2) with K_a = 8 (4:8) or 2 (1:8), per W term
    assert cost.compute_cycles == 2 * (4 * (8 + 2) + 4 * (2 + 2))


def test_s2ta_dense_weights_run_as_two_bound_passes():
    cost = estimate_cost(profile(record(64, 64, 64)), plan(), "s2ta").per_layer[0]
    assert cost.passes == 2 and cost.weights_ran_as == "4:8+4:8"


def test_absent_layers_and_activation_gemms_run_dense():
    prof = profile(
        record(8, 8, 8, fqn="a"),
        record(8, 8, 8, fqn="b"),
        record(8, 8, 8, fqn="attn.matmul0", weight=False),
    )
    cost = estimate_cost(prof, plan("2:4", fqn="a"), "2of4")
    rows = {r.fqn: r for r in cost.per_layer}
    assert rows["a"].weights_ran_as == "2:4"
    assert rows["b"].weights_ran_as == "dense" and rows["b"].reasons == ()
    assert rows["attn.matmul0"].reasons == ("activation GEMM: runs dense",)
    assert cost.edp_js == pytest.approx(cost.energy_j * cost.latency_s)
    with pytest.raises(ValueError, match="'c' is not in the profile"):
        estimate_cost(prof, plan("2:4", fqn="c"), "2of4")


def test_fused_beats_sequential_on_a_two_term_series(make_hw):
    prof = profile(record(256, 256, 264))  # K_eff 132 + 33: 5 + 2 K folds apart, 6 fused
    seq = make_hw("flex8", sparsity={"schedule": "sequential"})
    fused = make_hw("flex8", sparsity={"schedule": "fused"})
    a = estimate_cost(prof, plan("2:4+1:8"), seq)
    b = estimate_cost(prof, plan("2:4+1:8"), fused)
    assert b.compute_cycles < a.compute_cycles and b.energy_j < a.energy_j


def test_sparseloop_reference_gemm():
    """Sparseloop (MICRO'22) 512x1024x256, activations 27% dense: dense TC 131,072 cycles and
    247.6 uJ; 2:4 sparse TC 65,536 cycles and 132.6 uJ."""
    prof = profile(record(512, 256, 1024, density=0.27))
    dense = estimate_cost(prof, plan(), "dense")
    sparse = estimate_cost(prof, plan("2:4"), "2of4")
    assert dense.compute_cycles / sparse.compute_cycles == pytest.approx(2.0, rel=1e-3)
    reference = 132.6 / 247.6
    assert sparse.energy_j / dense.energy_j == pytest.approx(reference, rel=0.25)


def test_vs_dense():
    prof = profile(record(128, 128, 128))
    dense = estimate_cost(prof, plan(), load_hardware("vegeta"))
    sparse = estimate_cost(prof, plan("1:4"), "vegeta")
    cmp = sparse.vs(dense)
    assert cmp.speedup == pytest.approx(dense.latency_s / sparse.latency_s)
    assert cmp.edp_reduction == pytest.approx(1 - sparse.edp_js / dense.edp_js)
    assert 0 < cmp.energy_ratio < 1 and cmp.speedup > 1


def test_s2ta_runs_rows_shorter_than_a_block_in_one_pass():
    # depthwise 3x3: rows of 1 channel; a 4:8 bound keeps all of a row of <= 4: one pass
    depthwise = record(64, 16, 9, groups=16, row=1)
    cost = estimate_cost(profile(depthwise), plan(), "s2ta").per_layer[0]
    assert cost.passes == 1 and cost.weights_ran_as == "dense"
    # rows of 6 channels: a 4:8 pass keeps 4 of 6, two passes
    six = estimate_cost(profile(record(64, 16, 54, row=6)), plan(), "s2ta").per_layer[0]
    assert six.passes == 2
