"""Surgery rules on small hand-made layers: where blocks run, what stays dense and why."""

import pytest
import torch
from torch import nn

from tasder_plugin import LayerPlan, ModelPlan, apply_tasd_, remove_tasd_, tasd_layer_stats
from tasder_plugin.nn import register_weight_as_is, tasd_layers


def test_conv_weights_are_blocked_along_input_channels_at_each_tap():
    conv = nn.Conv2d(8, 2, kernel_size=2, bias=False)
    with torch.no_grad():
        # magnitude grows along input channels and, much faster, along the kernel taps: blocks
        # along taps or across taps would keep different positions than blocks along channels
        cin = torch.arange(8.0).view(1, 8, 1, 1)
        taps = torch.tensor([[0.0, 100.0], [200.0, 300.0]]).view(1, 1, 2, 2)
        conv.weight.copy_((cin + taps + 1).expand(2, 8, 2, 2))
    model = nn.Sequential(conv)
    apply_tasd_(model, ModelPlan.uniform(model, weights="2:4"))
    kept = conv.weight != 0
    # at every tap: channels 2,3 of block 0-3 and 6,7 of block 4-7 are kept
    expected = torch.tensor([False, False, True, True, False, False, True, True])
    for kh in range(2):
        for kw in range(2):
            assert torch.equal(kept[0, :, kh, kw], expected)
            assert torch.equal(kept[1, :, kh, kw], expected)


def test_grouped_conv_blocks_stay_inside_groups_and_narrow_groups_stay_dense():
    model = nn.Sequential(
        nn.Conv2d(16, 16, 3, groups=4),  # 4 channels per group: blockable with m=4
        nn.Conv2d(16, 16, 3, groups=8),  # 2 channels per group: narrower than m
        nn.Conv2d(16, 16, 3, groups=16),  # depthwise
    )
    reports = {r.fqn: r for r in apply_tasd_(model, ModelPlan.uniform(model, weights="2:4"))}
    assert reports["0"].weights == "2:4" and not reports["0"].reasons
    for name in ("1", "2"):
        assert reports[name].weights is None
        assert "narrower than m=4" in reports[name].reasons[0]
    assert torch.count_nonzero(model[0].weight) == model[0].weight.numel() // 2
    rows = {r["fqn"]: r for r in tasd_layer_stats(model)}
    assert "narrower" in rows["2"]["dense_reason"]


def test_grouped_conv_activations_are_blocked_per_group():
    conv = nn.Conv2d(8, 8, 1, groups=2, bias=False)
    model = nn.Sequential(conv)
    seen = {}
    apply_tasd_(model, ModelPlan.uniform(model, activations="1:4"))
    conv.register_forward_pre_hook(lambda mod, args: seen.setdefault("x", args[0]))  # runs after
    x = torch.arange(1.0, 9.0).view(1, 8, 1, 1)  # the largest of each group of 4 survives
    model(x)
    assert seen["x"].flatten().tolist() == [0, 0, 0, 4, 0, 0, 0, 8]


def test_linear_activations_are_blocked_along_features():
    model = nn.Sequential(nn.Linear(8, 3))
    captured = []
    apply_tasd_(model, ModelPlan.uniform(model, activations="2:4"))
    model[0].register_forward_pre_hook(lambda mod, args: captured.append(args[0]))  # runs after
    x = torch.tensor([[1.0, -5.0, 2.0, 0.5, 3.0, 3.0, -3.0, 1.0]])
    model(x)
    assert captured[-1].tolist() == [[0.0, -5.0, 2.0, 0.0, 3.0, 3.0, 0.0, 0.0]]  # ties: lower
    remove_tasd_(model)
    model(x)
    assert torch.equal(captured[-1], x)  # hook removed


class StandardisedConv(nn.Conv2d):
    """Like timm's StdConv2d: the forward uses a transformed weight."""

    def forward(self, x):
        w = (self.weight - self.weight.mean()) / (self.weight.std() + 1e-5)
        return self._conv_forward(x, w, self.bias)


@register_weight_as_is
class PaddedConv(nn.Conv2d):
    def forward(self, x):
        return super().forward(nn.functional.pad(x, (1, 1, 1, 1)))


def test_layers_that_transform_their_weight_stay_dense_with_the_reason():
    from timm.layers import StdConv2d

    param = nn.Linear(8, 8)
    torch.nn.utils.parametrizations.weight_norm(param)
    model = nn.Sequential(StandardisedConv(8, 8, 1), StdConv2d(8, 8, 1), param, PaddedConv(8, 8, 1))
    reports = {r.fqn: r for r in apply_tasd_(model, ModelPlan.uniform(model, "2:4", "2:4"))}
    for name in ("0", "1", "2"):
        assert reports[name].weights is None, name
        assert "weight" in reports[name].reasons[0], name
        assert reports[name].activations == "2:4"  # the input side is unaffected
    assert "parametrized" in reports["2"].reasons[0]
    assert reports["3"].weights == "2:4"  # declared as using its weight as stored


def test_remove_restores_bit_exactly_including_negative_zero():
    layer = nn.Linear(8, 2, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[-0.0, 1, -2, 3, 0.0, -0.0, 5, -6]] * 2))
    model = nn.Sequential(layer)
    original = layer.weight.detach().clone()
    param = layer.weight
    apply_tasd_(model, ModelPlan.uniform(model, weights="2:4"))
    assert layer.weight is param  # the Parameter object is kept (optimisers, tied weights)
    remove_tasd_(model)
    assert torch.equal(layer.weight.view(torch.int32), original.view(torch.int32))


def test_applying_twice_is_an_error_and_nan_weights_name_the_layer():
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8))
    apply_tasd_(model, ModelPlan.uniform(model, weights="2:4"))
    with pytest.raises(RuntimeError, match="already applied"):
        apply_tasd_(model, ModelPlan.uniform(model, weights="2:4"))
    remove_tasd_(model)
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    before = model[0].weight.detach().clone()
    with pytest.raises(ValueError, match="layer '1' weight: .*NaN"):
        apply_tasd_(model, ModelPlan.uniform(model, weights="2:4"))
    assert not tasd_layers(model) and torch.equal(model[0].weight, before)  # rolled back


def test_plan_selection_validation_and_round_trip(tmp_path):
    model = nn.Sequential()
    model.add_module("encoder", nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)))
    model.add_module("head", nn.Linear(8, 2))
    plan = ModelPlan.uniform(model, weights="2:4+1:8", ignore=["head"])
    assert list(plan) == ["encoder.0", "encoder.2", "head"]
    assert plan["head"].is_dense and str(plan["encoder.0"].weights) == "2:4+1:8"
    regex = ModelPlan.uniform(model, activations="2:4", targets=["re:encoder\\.\\d"])
    assert list(regex.decomposed()) == ["encoder.0", "encoder.2"]
    for suffix in (".yaml", ".json"):
        path = plan.save(tmp_path / f"plan{suffix}")
        assert ModelPlan.load(path) == plan
    with pytest.raises(ValueError, match="did you mean 'head'"):
        ModelPlan.uniform(model, weights="2:4", ignore=["haed"])
    with pytest.raises(ValueError, match="matches no GEMM layer"):
        ModelPlan.uniform(model, weights="2:4", targets=["re:decoder.*"])
    stale = ModelPlan({"encoder.1": LayerPlan("2:4")})
    with pytest.raises(ValueError, match="did you mean"):
        apply_tasd_(model, stale)
    assert ModelPlan.dense(model).decomposed() == {}


def test_bad_plan_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        ModelPlan.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nlayers:\n  fc: {weights: '5:4'}\n")
    with pytest.raises(ValueError, match="layer 'fc': .*'5:4'"):
        ModelPlan.load(bad)
    bad.write_text("layers:\n  fc: {weights: 2:4}\n")
    with pytest.raises(ValueError, match="quote it"):
        ModelPlan.load(bad)
    bad.write_text("layers:\n  fc: {weight: '2:4'}\n")
    with pytest.raises(ValueError, match="unknown plan keys"):
        ModelPlan.load(bad)
    with pytest.raises(ValueError, match=".yaml, .yml or .json"):
        ModelPlan.load(bad.rename(tmp_path / "plan.txt"))


def test_activation_buffer_is_reused_only_when_no_one_else_holds_it():
    model = nn.Sequential(nn.Linear(8, 4))
    apply_tasd_(model, ModelPlan.uniform(model, activations="1:4"))
    kept = []
    model[0].register_forward_pre_hook(lambda mod, args: kept.append(args[0]))
    x1, x2 = torch.arange(1.0, 9.0).view(1, 8), torch.arange(8.0, 0.0, -1).view(1, 8)
    with torch.no_grad():
        model(x1)
        model(x2)
    # the first call's decomposed input was held by the user's hook: it must be intact
    assert kept[0].tolist() == [[0, 0, 0, 4, 0, 0, 0, 8]]
    assert kept[1].tolist() == [[8, 0, 0, 0, 4, 0, 0, 0]]
    assert kept[0].data_ptr() != kept[1].data_ptr()
    kept.clear()
    with torch.no_grad():
        model(x1)
        first_ptr = kept.pop().data_ptr()
        model(x2)  # nothing holds the previous output now: its buffer is reused
        assert kept.pop().data_ptr() == first_ptr
    with torch.enable_grad():  # autograd may save the input: never reused
        model(x1)
        model(x2)
    assert kept[0].data_ptr() != kept[1].data_ptr()


def test_a_weight_shared_by_two_layers_is_restored_exactly():
    torch.manual_seed(0)
    first, second = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
    second.weight = first.weight  # tied
    model = torch.nn.Sequential(first, torch.nn.ReLU(), second)
    original = first.weight.detach().clone()
    storage = first.weight.data_ptr()
    apply_tasd_(model, ModelPlan.uniform(model, weights="2:4+1:8"))
    assert not torch.equal(first.weight, original)
    remove_tasd_(model)
    assert torch.equal(first.weight, original) and first.weight.data_ptr() == storage
