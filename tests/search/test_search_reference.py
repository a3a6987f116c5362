"""TASDER on the offline reference digits models: budget, determinism, ordering, errors."""

import json

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from tasder_plugin import (
    ModelPlan,
    apply_tasd_,
    estimate_cost,
    profile_model,
    remove_tasd_,
    search_plan,
)
from tasder_plugin.data.digits import digits_splits
from tasder_plugin.models import build_reference
from tasder_plugin.nn import effective_plan
from tasder_plugin.search import CalibrationError, SearchSpaceError, run_search


@pytest.fixture(scope="module")
def resnet():
    return build_reference("reference_resnet")


@pytest.fixture(scope="module")
def calib():
    return DataLoader(TensorDataset(*digits_splits()["calib"].tensors), batch_size=128)


@pytest.fixture(scope="module")
def profile(resnet):
    return profile_model(resnet, digits_splits()["eval"].tensors[0][:32])


def _edp_reduction(model, plan, profile, hw):
    reports = apply_tasd_(model, plan)
    remove_tasd_(model)
    cost = estimate_cost(profile, effective_plan(plan, reports), hw)
    return cost.vs(estimate_cost(profile, ModelPlan.dense(model), hw)).edp_reduction


@pytest.mark.slow
def test_tasder_holds_the_budget_on_both_parts_and_saves_edp(resnet, calib, profile, tmp_path):
    found = run_search(resnet, calib, "2of4", max_drop=0.01, profile=profile)
    s = found.summary
    assert s["strategy"] == "tasder" and s["metric"] == "top1"
    assert s["drop_search"] <= 0.01 and s["drop_holdout"] <= 0.01
    assert s["search_samples"] + s["holdout_samples"] == s["calib_samples"] == 359
    assert s["layers_decomposed"] > 0
    # the search's own cost bookkeeping agrees with estimate_cost on the plan it returns
    assert _edp_reduction(resnet, found.plan, profile, "2of4") == pytest.approx(
        s["estimated_reduction"], rel=1e-9
    )
    assert s["estimated_reduction"] > 0
    # the plan round-trips through YAML and the log is complete
    assert ModelPlan.load(found.plan.save(tmp_path / "plan.yaml")) == found.plan
    log = json.loads(found.save_log(tmp_path / "log.json").read_text())
    assert [row["fqn"] for row in log["layers"]] == [r.fqn for r in profile.records]
    for row in log["layers"]:
        labels = [o["candidate"] for o in row["options"]]
        assert labels[0] == "W=dense A=dense" and row["choice"] in labels
        assert all(o["sensitivity"] >= 0 and o["energy_j"] > 0 for o in row["options"])
    assert log["trials"] and all({"step", "part", "drop", "ok"} <= set(t) for t in log["trials"])


@pytest.mark.slow
def test_same_seed_and_data_give_the_same_plan(resnet, calib, profile):
    first = run_search(resnet, calib, "vegeta", profile=profile)
    second = run_search(resnet, calib, "vegeta", profile=profile)
    assert first.plan == second.plan
    drop_keys = ("drop_search", "drop_holdout", "estimated_reduction", "forwards")
    assert {k: first.summary[k] for k in drop_keys} == {k: second.summary[k] for k in drop_keys}
    assert first.layers == second.layers


@pytest.mark.slow
@pytest.mark.parametrize("hw", ["2of4", "vegeta"])
def test_tasder_saves_at_least_what_every_other_strategy_saves(resnet, calib, profile, hw):
    saved = {
        strategy: _edp_reduction(
            resnet, search_plan(resnet, calib, hw, strategy=strategy, profile=profile), profile, hw
        )
        for strategy in ("uniform", "ranked", "greedy", "tasder")
    }
    assert saved["tasder"] >= max(saved.values()) and saved["greedy"] >= saved["uniform"] >= 0
    assert saved["ranked"] > 0, saved


@pytest.mark.slow
def test_zero_budget_changes_no_calibration_prediction(resnet, calib, profile):
    found = run_search(resnet, calib, "2of4", max_drop=0.0, profile=profile)
    assert found.summary["drop_search"] <= 0 and found.summary["drop_holdout"] <= 0


def test_the_search_leaves_the_model_as_it_found_it(resnet, calib, profile):
    before = {k: v.clone() for k, v in resnet.state_dict().items()}
    resnet.train()
    try:
        run_search(resnet, calib, "2of4", strategy="uniform", profile=profile)
        assert resnet.training
    finally:
        resnet.eval()
    after = resnet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(m._forward_pre_hooks for m in resnet.modules())


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"max_drop": -0.01}, ValueError, "max_drop must be a fraction in"),
        ({"strategy": "annealing"}, ValueError, "strategy must be one of.*greedy"),
        ({"objective": "area"}, ValueError, "objective must be one of edp"),
        ({"hw": "dstc"}, SearchSpaceError, "nothing to choose"),
        ({"calib": None}, CalibrationError, "needs calibration data"),
        ({"calib": []}, CalibrationError, "empty"),
    ],
)
def test_bad_input_is_a_clear_error(resnet, calib, kwargs, error, message):
    args = {"calib": calib, "hw": "2of4", **kwargs}
    with pytest.raises(error, match=message):
        run_search(resnet, args.pop("calib"), args.pop("hw"), **args)


def test_a_series_exact_on_a_sparse_weight_costs_no_forward_pass(calib):
    model = build_reference("reference_resnet_sp95")
    prof = profile_model(model, digits_splits()["eval"].tensors[0][:32])
    found = run_search(model, calib, "flex8", strategy="uniform", profile=prof)
    options = [o for row in found.layers for o in row["options"]]
    lossless = [o for o in options if not o["measured"] and o["candidate"].endswith("A=dense")]
    assert lossless and all(o["sensitivity"] == 0 for o in lossless)
