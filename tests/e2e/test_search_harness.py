"""The search in the harness: tasd=tasder / greedy, its record, and reusing the plan it saved."""

import json
from pathlib import Path

import pytest

from evaluation.run import evaluate
from tasder_plugin.search import CalibrationError, SearchSpaceError


@pytest.mark.slow
def test_searched_plan_is_recorded_and_reproduces_with_tasd_plan(make_cfg):
    cfg = make_cfg("tasd=tasder", "hw=vegeta")
    metrics, _ = evaluate(cfg)
    record = json.loads((Path(cfg.output_dir) / "results.json").read_text())
    search = record["search"]
    assert search["strategy"] == "tasder" and search["max_drop"] == 0.01
    assert search["drop_search"] <= 0.01 and search["drop_holdout"] <= 0.01
    # calibration and evaluation splits are both reported
    assert metrics["calib/metric"] == search["metric_calib"]
    assert metrics["dense_calib/metric"] >= 0.98 and "val/acc1" in metrics
    assert metrics["hw/edp_reduction"] == pytest.approx(search["estimated_reduction"], rel=1e-9)
    log = json.loads(Path(search["log"]).read_text())
    assert len(log["layers"]) == search["layers_searched"]

    plan_path = Path(search["plan"])
    reused = make_cfg("tasd=plan", f"tasd.path={plan_path}", "hw=vegeta")
    again, _ = evaluate(reused)
    for key in ("val/acc1", "val/agreement", "hw/edp_js", "tasd/layers_planned"):
        assert again[key] == metrics[key]


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (["tasd=tasder", "mode=cost"], CalibrationError, "needs calibration data"),
        (["tasd=tasder", "hw=dstc"], SearchSpaceError, "nothing to choose from"),
        (["tasd=greedy", "tasd.max_drop=-0.5"], ValueError, "tasd.max_drop must be a fraction"),
    ],
)
def test_search_misconfiguration_is_a_clear_error(make_cfg, overrides, error, message):
    with pytest.raises(error, match=message):
        evaluate(make_cfg(*overrides))


@pytest.mark.slow
def test_auto_on_the_95_percent_sparse_model_keeps_top1_and_saves_edp(make_cfg):
    cfg = make_cfg("model=reference_resnet_sp95", "hw=flex8", "tasd=auto")
    metrics, _ = evaluate(cfg)
    assert abs(metrics["delta_val/acc1"]) <= 0.002  # at most 0.2 points
    # vs the same sparse model run dense on flex8 (42% at batch 1: small layers, dense swaps)
    assert metrics["hw/edp_reduction"] > 0.35
    record = json.loads((Path(cfg.output_dir) / "results.json").read_text())
    densities = [layer["weight_density"] for layer in record["auto"].values()]
    assert min(densities) < 0.05 and all(0 < d <= 1 for d in densities)


@pytest.mark.slow
def test_the_harness_and_search_plan_find_the_same_plan_on_reference_resnet20(make_cfg):
    from tasder_plugin import ModelPlan, profile_model, search_plan
    from tasder_plugin.data import build_data
    from tasder_plugin.models import build_reference

    cfg = make_cfg("model=reference_resnet20", "hw=2of4", "tasd=ranked")
    assert cfg.data.kind == "mnist"  # the model's own data by default
    metrics, _ = evaluate(cfg)
    record = json.loads((Path(cfg.output_dir) / "results.json").read_text())
    search = record["search"]
    assert search["calib_samples"] == 1000 and search["drop_holdout_se"] >= 0
    assert {"sensitivity", "ranked bisection", "holdout guard"} <= set(search["phases"])
    # the same search from Python: the harness's calibration loader and cost profile
    model = build_reference("reference_resnet20")
    data = build_data({"kind": "mnist"}, {})
    profile = profile_model(model, data.example_batch(32), batch_size=1)
    plan = search_plan(model, data.calib, "2of4", strategy="ranked", profile=profile)
    assert plan == ModelPlan.load(search["plan"])
    assert metrics["hw/edp_reduction"] == pytest.approx(search["estimated_reduction"], rel=1e-9)
