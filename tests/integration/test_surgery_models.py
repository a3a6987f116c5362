"""TASD-W and TASD-A on real architectures (random init, offline): apply, run, check, restore."""

import pytest
import torch
import torch.nn.functional as F

from tasder_plugin import ModelPlan, apply_tasd_, remove_tasd_, tasd_layer_stats
from tasder_plugin.nn import layer_kind, tasd_layers

from .model_zoo import ALL_MODELS, build, run


def max_nnz_per_block(weight: torch.Tensor, m: int, dim: int) -> int:
    """Independent check: the largest number of non-zeros in any block of m along ``dim``."""
    moved = (weight != 0).movedim(dim, -1).to(torch.int64)
    padded = F.pad(moved, (0, (-moved.shape[-1]) % m))
    return int(padded.reshape(-1, m).sum(-1).max())


def snapshot(model: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_MODELS)
def test_uniform_2of4_weights_and_activations(name):
    model, example = build(name)
    before = snapshot(model)
    dense_out = run(model, example)

    plan = ModelPlan.uniform(model, weights="2:4", activations="2:4")
    reports = apply_tasd_(model, plan)
    assert reports and len(tasd_layers(model)) == len(plan.decomposed())
    tasd_out = run(model, example)
    assert tasd_out.shape == dense_out.shape and torch.isfinite(tasd_out).all()
    assert not torch.equal(tasd_out, dense_out)

    decomposed = 0
    for report in reports:
        module = model.get_submodule(report.fqn)
        kind = layer_kind(module)
        if report.weights is not None:
            assert max_nnz_per_block(module.weight, 4, kind.weight_dim) <= 2, report.fqn
            decomposed += 1
        else:  # stayed dense: the report says why
            assert report.reasons, report.fqn
    assert decomposed > 0
    stats = tasd_layer_stats(model)
    assert all(0 < r["kept_energy"] < 1 for r in stats if r["weights"])

    assert remove_tasd_(model) == len(reports)
    after = snapshot(model)
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    assert torch.equal(run(model, example), dense_out)
    assert not any(m._forward_pre_hooks for m in model.modules())


def test_gpt2_conv1d_weights_are_blocked_along_dim_0():
    model, example = build("gpt2")
    apply_tasd_(model, ModelPlan.uniform(model, weights="1:4"))
    conv1d = model.get_submodule("h.0.attn.c_attn")
    assert type(conv1d).__name__ == "Conv1D"
    assert layer_kind(conv1d).weight_dim == 0  # weight is (in, out): K runs along dim 0
    assert max_nnz_per_block(conv1d.weight, 4, 0) == 1
    assert max_nnz_per_block(conv1d.weight, 4, 1) > 1  # not along the output dimension
    run(model, example)
