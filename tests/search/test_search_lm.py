"""The search on causal LMs: next-token scoring, the perplexity budget, Fisher sensitivities."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tasder_plugin.errors import ConfigError
from tasder_plugin.nn import LayerPlan, ModelPlan, apply_tasd_, remove_tasd_, select_layers
from tasder_plugin.profile.settings import CostSettings
from tasder_plugin.search import Calibration, SearchOptions, run_search
from tasder_plugin.search.evaluator import PlanEvaluator
from tasder_plugin.search.scoring import get_scorer
from tasder_plugin.search.sensitivity import SENSITIVITIES
from tests.lm_fixtures import tiny_causal_lm

VOCAB, SEQ = 97, 24


@pytest.fixture(scope="module")
def tiny_llama():
    return tiny_causal_lm("llama", VOCAB)


def token_windows(count: int, seed: int = 0) -> torch.Tensor:
    """Token windows with structure a random LM still finds partly predictable (repeats)."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.randint(0, VOCAB, (count, SEQ // 2), generator=gen)
    return torch.cat([base, base], dim=1)


def lm_calibration(count: int = 10, holdout: float = 0.3) -> Calibration:
    batches = [({"input_ids": w.unsqueeze(0)}, i) for i, w in enumerate(token_windows(count))]
    return Calibration.from_batches(batches, holdout=holdout, labelled=False, batch_size=2)


def test_next_token_output_is_each_windows_mean_nll_as_transformers_computes_it(tiny_llama):
    ids = token_windows(3)
    out = get_scorer("causal-lm").outputs(tiny_llama, {"input_ids": ids})
    with torch.no_grad():
        hand = [float(tiny_llama(input_ids=w[None], labels=w[None]).loss) for w in ids]
    assert out.tolist() == pytest.approx(hand, abs=1e-5)


def test_the_perplexity_budget_is_a_drop_of_log1p_nats_and_only_for_lms():
    lm = get_scorer("causal-lm")
    assert lm.drop_limit(0.01, 0.05) == math.log1p(0.05)
    assert lm.drop_limit(0.02, None) == 0.02  # max_drop: nats of mean NLL
    with pytest.raises(ConfigError, match="max_increase is a perplexity budget.*tasd.max_drop"):
        get_scorer("classification").drop_limit(0.01, 0.05)
    with pytest.raises(ConfigError, match="max_increase"):
        SearchOptions(max_increase=0.0)
    with pytest.raises(ConfigError, match="must be one of auto, forward, fisher, got 'hessian'"):
        SearchOptions(sensitivity="hessian")


def test_fisher_is_half_the_squared_taylor_term_of_the_layer_output():
    """One linear classifier: g = softmax(y) - onehot(top-1), dy = x (W' - W)^T, by hand."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 5)).eval()
    x = torch.randn(12, 16)
    calib = Calibration.from_batches([(x, torch.zeros(12))], holdout=0.0, batch_size=5)
    evaluator = PlanEvaluator(model, ["0"], calib, get_scorer("classification"))
    requests = [("0", LayerPlan(weights="2:4")), ("0", LayerPlan(activations="1:4"))]
    got = SENSITIVITIES.get("fisher")(evaluator, requests, calib.search, False)

    def hand(plan: LayerPlan) -> float:
        with torch.no_grad():
            y = model(x)
            g = F.softmax(y, -1) - F.one_hot(y.argmax(-1), 5)
            apply_tasd_(model, ModelPlan({"0": plan}))
            dy = model(x) - y
            remove_tasd_(model)
        return float(0.5 * ((g * dy).sum(-1) ** 2).sum() / len(x))

    assert got == pytest.approx([hand(plan) for _, plan in requests], rel=1e-5)
    assert all(p.requires_grad for p in model.parameters())


def test_fisher_leaves_frozen_parameters_frozen_and_an_exact_series_scores_zero(tiny_llama):
    calib = lm_calibration(4, holdout=0.0)
    evaluator = PlanEvaluator(tiny_llama, select_layers(tiny_llama), calib, get_scorer("causal-lm"))
    for p in tiny_llama.parameters():
        p.requires_grad_(False)
    try:
        layer = "model.layers.0.mlp.down_proj"
        requests = [(layer, LayerPlan(weights="2:4+2:4")), (layer, LayerPlan(weights="1:4"))]
        exact, lossy = SENSITIVITIES.get("fisher")(evaluator, requests, calib.search, False)
        assert not any(p.requires_grad for p in tiny_llama.parameters())
    finally:
        for p in tiny_llama.parameters():
            p.requires_grad_(True)
    assert exact == 0.0 and lossy > 0.0


@pytest.mark.slow
def test_lm_search_holds_its_perplexity_budget_and_is_deterministic(tiny_llama):
    calib = lm_calibration()
    run = lambda: run_search(tiny_llama, calib, "2of4", task="causal-lm", max_increase=0.05,  # noqa: E731
                             refine_trials=4)  # fmt: skip
    first, again = run(), run()
    summary = first.summary
    assert summary["sensitivity"] == "fisher" and summary["max_increase"] == 0.05
    assert summary["max_drop"] == pytest.approx(math.log1p(0.05))
    assert summary["metric"] == "loglik" and summary["dense_metric_calib"] < 0
    assert summary["ppl_increase_holdout"] == pytest.approx(math.expm1(summary["drop_holdout"]))
    assert summary["drop_search"] <= summary["max_drop"] + 1e-12  # the budget the checks hold
    assert first.plan == again.plan and first.layers == again.layers


@pytest.mark.slow
def test_lm_search_costs_the_decode_step_it_is_asked_for(tiny_llama):
    calib = lm_calibration(6)
    found = run_search(tiny_llama, calib, "2of4", task="causal-lm", strategy="uniform",
                       cost=CostSettings(phase="decode", context=16))  # fmt: skip
    energies = {row["fqn"]: row["options"][0]["energy_j"] for row in found.layers}
    prefill = run_search(tiny_llama, calib, "2of4", task="causal-lm", strategy="uniform")
    dense_prefill = {row["fqn"]: row["options"][0]["energy_j"] for row in prefill.layers}
    layer = "model.layers.0.mlp.down_proj"
    assert energies[layer] < dense_prefill[layer]  # one token, not a window of 24
