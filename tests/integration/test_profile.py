"""profile_model: GEMM shapes match the conventions and the MACs torch's FLOP counter sees."""

from __future__ import annotations

import functools
import pickle
from collections import OrderedDict

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from tasder_plugin.nn import layer_kind
from tasder_plugin.profile import GemmRecord, ModelProfile, profile_model
from tests.integration import model_zoo

# FlopCounterMode has no formula for the CPU flash-attention kernel (it counts 0 FLOPs for SDPA on
# CPU); give it the one it uses for the other SDPA kernels so the reference counts attention.
_CPU_SDPA = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: (
        lambda q, k, v, *args, out_shape=None, **kwargs: sdpa_flop_count(q, k, v)
    )
}
_FAST = {"resnet18", "bert", "distilbert", "gpt2", "hf_vit"}


def _zoo_params(names):
    return [n if n in _FAST else pytest.param(n, marks=pytest.mark.slow) for n in names]


@functools.cache
def _profiled(name: str):
    """(model, profile, reference MACs, fqns of GEMM layers that ran), once per model."""
    model, example = model_zoo.build(name)
    ran: list[str] = []
    handles = [
        module.register_forward_hook(lambda *_, fqn=fqn: ran.append(fqn))
        for fqn, module in model.named_modules()
        if layer_kind(module) is not None
    ]
    with FlopCounterMode(display=False, custom_mapping=_CPU_SDPA) as counter:
        model_zoo.run(model, example)
    for handle in handles:
        handle.remove()
    return model, profile_model(model, example), counter.get_total_flops() / 2, ran


@pytest.fixture(scope="module", autouse=True)
def _free_cached_models():
    yield
    _profiled.cache_clear()


def _hooks(model: nn.Module) -> list:
    return [
        hooks
        for module in model.modules()
        for hooks in (
            module._forward_hooks,
            module._forward_pre_hooks,
            module._forward_hooks_with_kwargs,
            module._forward_pre_hooks_with_kwargs,
            module._forward_hooks_always_called,
        )
        if hooks
    ]


@pytest.mark.parametrize("name", _zoo_params(model_zoo.ALL_MODELS))
def test_zoo_macs_match_flop_counter_and_every_layer_is_listed(name):
    model, prof, reference_macs, ran = _profiled(name)
    assert prof.total_macs == pytest.approx(reference_macs, rel=0.01)
    assert [r.fqn for r in prof.weight_gemms()] == ran
    assert all(r.macs == r.M * r.N * r.K for r in prof.records)
    assert _hooks(model) == [] and not model.training


def test_resnet18_stem_conv_follows_the_conventions():
    prof = _profiled("resnet18")[1]
    (conv1,) = prof.by_fqn("conv1")
    # 96x96 input, stride 2 -> 48x48 output pixels; K = 3 channels x 7 x 7 taps.
    assert (conv1.op, conv1.M, conv1.N, conv1.K, conv1.groups) == ("conv2d", 48 * 48, 64, 147, 1)
    assert conv1.weight_numel == 64 * 3 * 7 * 7 and conv1.is_weight_gemm
    assert conv1.output_shape == (1, 64, 48, 48)
    (fc,) = prof.by_fqn("fc")
    assert (fc.op, fc.M, fc.N, fc.K) == ("linear", 1, 1000, 512)


@pytest.mark.slow
def test_depthwise_conv_in_mobilenetv3_has_per_group_k():
    model, prof = _profiled("mobilenetv3_large_100")[:2]
    modules = dict(model.named_modules())
    depthwise = [r for r in prof.weight_gemms() if r.op == "conv2d" and modules[r.fqn].groups > 1]
    assert depthwise
    for record in depthwise:
        conv = modules[record.fqn]
        kh, kw = conv.kernel_size
        assert record.K == kh * kw * conv.in_channels // conv.groups
        assert (record.N, record.groups) == (conv.out_channels, conv.groups)


@pytest.mark.parametrize("name, layers", [("vit_small_patch16_224", 12), ("bert", 2)])
def test_attention_gemms_are_listed_dense(name, layers):
    prof = _profiled(name)[1]
    attention = [r for r in prof.records if r.op in ("sdpa", "matmul")]
    assert len(attention) == 2 * layers
    assert all(not r.is_weight_gemm and r.weight_numel == 0 for r in attention)
    assert {r.fqn.rsplit(".", 1)[-1] for r in attention} == {"qk", "av"}


def test_linear_histogram_one_nonzero_per_block_of_four():
    x = torch.zeros(3, 8)
    x[:, 1] = 1.0
    x[:, 6] = -2.0
    (record,) = profile_model(nn.Linear(8, 5), x).records
    assert record.input_block_nnz_hist == {4: (0, 6, 0, 0, 0), 8: (0, 0, 3, 0, 0, 0, 0, 0, 0)}
    assert record.input_density == pytest.approx(0.25)
    assert (record.M, record.N, record.K, record.weight_numel) == (3, 5, 8, 40)


def test_tail_block_is_counted():
    x = torch.ones(2, 6)
    (record,) = profile_model(nn.Linear(6, 1), x).records
    assert record.input_block_nnz_hist[4] == (0, 0, 2, 0, 2)  # per row: one full block, tail of 2


def test_grouped_conv_blocks_stay_inside_a_group():
    x = torch.zeros(1, 8, 5, 5)
    x[:, 0] = 1.0  # one non-zero in each group of 4 channels
    x[:, 4] = 1.0
    conv = nn.Conv2d(8, 6, 3, groups=2)
    (record,) = profile_model(conv, x).records
    pixels = 5 * 5
    # m=8 is wider than a group: each group is one short block with 1 non-zero, never 2.
    assert record.input_block_nnz_hist[8] == (0, 2 * pixels, 0, 0, 0, 0, 0, 0, 0)
    assert (record.M, record.N, record.K, record.groups) == (3 * 3, 6, 4 * 9, 2)


def test_hf_conv1d_is_a_weight_gemm():
    prof = _profiled("gpt2")[1]
    (c_attn,) = prof.by_fqn("h.0.attn.c_attn")
    assert (c_attn.op, c_attn.M, c_attn.N, c_attn.K) == ("conv1d", 16, 192, 64)
    assert c_attn.is_weight_gemm and c_attn.weight_numel == 64 * 192


class _Attention(nn.Module):
    def forward(self, q, k, v, causal: bool = False):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


class _ExplicitAttention(nn.Module):
    def forward(self, q, k, v):
        return (q @ k.transpose(-2, -1)).softmax(-1) @ v


def test_sdpa_is_two_gemms_whatever_the_backend():
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 7, 4), torch.randn(2, 3, 7, 6)
    prof = profile_model(_Attention(), (q, k, v))
    with sdpa_kernel(SDPBackend.MATH):  # decomposes into bmm: must not be counted twice
        assert profile_model(_Attention(), (q, k, v)) == prof
    qk, av = prof.records
    assert (qk.fqn, qk.op, qk.M, qk.N, qk.K, qk.groups) == ("sdpa0.qk", "sdpa", 5, 6 * 7, 4, 6)
    assert (av.fqn, av.M, av.N, av.K, av.output_shape) == ("sdpa0.av", 5, 6 * 6, 7, (2, 3, 5, 6))
    explicit = profile_model(_ExplicitAttention(), (q, k, v))
    assert [r.op for r in explicit.records] == ["matmul", "matmul"]
    assert explicit.total_macs == prof.total_macs


def test_causal_attention_probabilities_are_lower_triangular():
    q = torch.randn(1, 2, 4, 8)
    _, av = profile_model(_Attention(), (q, q, q, True)).records
    assert av.input_density == pytest.approx(10 / 16)
    # rows of the 4x4 causal mask hold 1, 2, 3, 4 non-zeros; 2 heads
    assert av.input_block_nnz_hist[4] == (0, 2, 2, 2, 2)


def test_hooks_and_training_flags_are_restored_even_on_error():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(), nn.Linear(4, 2))
    model.train()
    model[1].eval()
    user_hook = model[0].register_forward_hook(lambda *_: None)
    profile_model(model, torch.randn(2, 4))
    assert [m.training for m in model.modules()] == [True, True, False, True]
    assert list(model[0]._forward_hooks) == [user_hook.id]
    with pytest.raises(RuntimeError):
        profile_model(model, torch.randn(2, 3))  # shape mismatch inside the forward
    assert [m.training for m in model.modules()] == [True, True, False, True]
    user_hook.remove()
    assert _hooks(model) == []


def test_profile_is_deterministic_and_tabular():
    model, example = model_zoo.build("bert")
    first, second = profile_model(model, example), profile_model(model, example)
    assert first == second and isinstance(first, ModelProfile)
    assert pickle.loads(pickle.dumps(first)) == first
    assert all(isinstance(r, GemmRecord) for r in first.records)
    table = pd.DataFrame(first.as_rows())
    assert len(table) == len(first.records) and table["macs"].sum() == first.total_macs
    assert table["input_blocks4_nnz4"].dtype.kind == "i"


def test_by_fqn_suggests_close_names():
    model = nn.Sequential(OrderedDict(fc1=nn.Linear(4, 4), act=nn.ReLU(), fc2=nn.Linear(4, 1)))
    prof = profile_model(model, torch.randn(1, 4))
    assert prof.by_fqn("fc2")[0].N == 1
    with pytest.raises(KeyError, match="did you mean.*fc1"):
        prof.by_fqn("fc")


def test_unsupported_example_batch_type_is_a_clear_error():
    model = nn.Linear(4, 2)
    with pytest.raises(ValueError, match="example_batch must be a tensor"):
        profile_model(model, [torch.randn(1, 4)])
    assert _hooks(model) == []


def test_unregistered_convs_are_counted_as_dense_gemms():
    model = nn.Sequential(nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), nn.Flatten(2))
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    (record,) = profile_model(model, x).records
    assert (record.fqn, record.op, record.is_weight_gemm) == ("0.conv0", "convolution", False)
    assert record.macs == counter.get_total_flops() // 2
    assert (record.M, record.K, record.groups) == (2 * 5 * 5, 4 // 2, 2)


def test_channels_per_group_is_the_blocked_row_and_cost_keeps_narrow_rows_dense():
    from torch import nn

    from tasder_plugin import ModelPlan, profile_model
    from tasder_plugin.hardware import estimate_cost

    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.Conv2d(16, 16, 3, groups=16), nn.Conv2d(16, 8, 1))
    prof = profile_model(model, torch.randn(1, 3, 12, 12))
    assert [r.channels_per_group for r in prof.records] == [3, 1, 16]
    assert [r.K for r in prof.records] == [27, 9, 16]
    cost = estimate_cost(prof, ModelPlan.uniform(model, weights="2:4"), "2of4")
    rows = {r.fqn: r for r in cost.per_layer}
    assert rows["0"].weights_ran_as == rows["1"].weights_ran_as == "dense"
    assert any("narrower" in reason for reason in rows["1"].reasons)
    assert rows["2"].weights_ran_as == "2:4"


def test_weight_records_report_measured_density_and_blocks_along_k():
    from tasder_plugin import profile_model

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(8, 4, 3), torch.nn.Flatten(), torch.nn.Linear(16, 2)
    )
    with torch.no_grad():
        model[0].weight[:, 1::2] = 0  # half the input channels: 2 of every 4 along K per tap
    prof = profile_model(model, torch.randn(1, 8, 4, 4))
    conv, linear = prof.weight_gemms()
    assert conv.weight_density == 0.5 and linear.weight_density == 1.0
    taps_rows = 4 * 9  # output channels x kernel taps; K blocks run along the 8 input channels
    assert conv.weight_block_nnz_hist[4] == (0, 0, 2 * taps_rows, 0, 0)
    assert conv.weight_block_nnz_hist[8] == (0, 0, 0, 0, taps_rows, 0, 0, 0, 0)
    assert linear.weight_block_nnz_hist[4][-1] == 2 * 4
    assert conv.as_row()["weight_blocks4_nnz2"] == 2 * taps_rows


def test_records_keep_the_real_operands_of_a_conv():
    model = nn.Sequential(
        nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.Conv2d(8, 8, 3, padding="same")
    )
    x = torch.randn(2, 4, 9, 9)
    first, second = profile_model(model, x).records
    c = first.conv
    assert (c.batch, c.in_channels, c.in_hw, c.out_hw) == (2, 4, (9, 9), (5, 5))
    assert (c.kernel, c.stride, c.padding, c.dilation, c.groups) == (
        (3, 3),
        (2, 2),
        (1, 1),
        (1, 1),
        1,
    )
    assert first.input_shape == (2, 4, 9, 9) and first.input_numel == 2 * 4 * 81
    assert first.input_bytes == 2 * 4 * 81 * 4  # fp32 as profiled
    assert first.weight_bytes == 8 * 4 * 9 * 4 and first.output_bytes == 2 * 8 * 25 * 4
    assert second.conv.padding == (1, 1)  # padding="same" resolved to numbers
    row = first.as_row()
    assert row["input_shape"] == "2x4x9x9" and row["conv_stride"] == "2x2"


def test_activation_gemms_keep_both_operands():
    class Attention(nn.Module):
        def forward(self, q, k):
            return F.scaled_dot_product_attention(q, k, k) + (q @ k.transpose(-1, -2)).sum()

    q, k = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 7, 4)
    qk, av, mm = profile_model(Attention(), (q, k)).records
    assert qk.input_shape == (2, 3, 5, 4) and qk.weight_bytes == k.numel() * 4
    assert av.input_shape == (2, 3, 5, 7)  # the attention probabilities, never materialised
    assert mm.input_shape == (6, 5, 4) and mm.output_bytes == 6 * 5 * 7 * 4


def test_batch_size_takes_shapes_of_a_few_samples_and_statistics_of_all():
    torch.manual_seed(0)
    model = nn.Sequential(nn.ReLU(), nn.Linear(8, 4))
    x = torch.randn(16, 8)
    x[1:] = x[1:].abs()  # sample 0 alone is about half zeros after the ReLU; all: ~3% zeros
    full, one = profile_model(model, x), profile_model(model, x, batch_size=1)
    (r_full,), (r_one,) = full.records, one.records
    assert (r_one.M, r_one.input_shape, one.batch_size, full.batch_size) == (1, (1, 8), 1, 16)
    assert r_one.input_density == r_full.input_density  # measured on all 16 samples
    assert r_one.input_block_nnz_hist == r_full.input_block_nnz_hist
    # more samples than the example has: shapes of the larger batch (samples repeated)
    assert profile_model(model, x, batch_size=40).records[0].M == 40
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        profile_model(model, x, batch_size=0)


def test_batch_size_refuses_a_model_whose_gemms_depend_on_the_batch():
    class ByBatch(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            return self.a(x) if x.shape[0] == 1 else self.b(x)

    with pytest.raises(ValueError, match="different GEMMs"):
        profile_model(ByBatch(), torch.randn(4, 4), batch_size=1)
