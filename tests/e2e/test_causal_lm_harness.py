"""Causal LMs through the harness: perplexity next to its dense value and the prefill cost,
the output embedding dense by default, hub ids offline in one line, the real SmolLM2."""

import json
import math
from pathlib import Path

import pytest

from evaluation.run import evaluate
from tasder_plugin.models.adapters import ModelLoadError

TINY = ("data=pydocs", "data.seq_len=32", "data.eval_windows=4")


def tiny_lm(make_cfg, model_dir, *overrides):
    return make_cfg("model=hf_causal_lm", f"model.checkpoint={model_dir}", *TINY, *overrides)


@pytest.mark.slow
def test_uniform_series_reports_perplexity_and_prefill_cost(make_cfg, tiny_llama_dir):
    cfg = tiny_lm(make_cfg, tiny_llama_dir, "tasd=uniform", "tasd.weights=2:4+2:8")
    metrics, objects = evaluate(cfg)
    assert metrics["val/ppl"] > metrics["dense_val/ppl"] > 1  # a random model, a lossy series
    assert metrics["delta_val/ppl"] == pytest.approx(metrics["val/ppl"] - metrics["dense_val/ppl"])
    assert 0 < metrics["val/agreement"] < 1
    record = json.loads((Path(cfg.output_dir) / "results.json").read_text())
    assert "lm_head" in record["kept_dense"]
    assert "lm_head" not in {r.fqn for r in objects["reports"]}
    assert metrics["tasd/layers_weights"] == 2 * 7  # every block GEMM of both layers
    gemms = {r.fqn: r for r in objects["profile"].records}
    assert gemms["model.layers.0.mlp.down_proj"].M == 32  # prefill: batch 1 x 32 tokens


@pytest.mark.slow
def test_dense_lm_head_false_decomposes_the_head_too(make_cfg, tiny_llama_dir):
    cfg = tiny_lm(make_cfg, tiny_llama_dir, "tasd=uniform", "model.dense_lm_head=false")
    metrics, objects = evaluate(cfg)
    assert "lm_head" in {r.fqn for r in objects["reports"]}
    assert metrics["tasd/layers_weights"] == 2 * 7 + 1


def test_hub_causal_lm_offline_is_one_line(make_cfg):
    cfg = make_cfg("model=hf_causal_lm", "model.architecture=facebook/opt-125m")
    with pytest.raises(ModelLoadError, match="not reachable") as err:
        evaluate(cfg)
    message = str(err.value)
    assert "\n" not in message and "model.checkpoint=/path/to/saved_pretrained_dir" in message


@pytest.mark.slow
def test_real_smollm2_perplexity_on_pydocs(make_cfg):
    pytest.importorskip("gguf", reason="comes with the lm extra")
    cfg = make_cfg("model=smollm2", "data.eval_windows=1", "data.seq_len=256",
                   "tasd=uniform", "tasd.weights=2:4+2:8")  # fmt: skip
    metrics, _ = evaluate(cfg)
    assert 5 < metrics["dense_val/ppl"] < 40  # a real pretrained LM on English prose and code
    assert metrics["dense_val/ppl"] < metrics["val/ppl"] < 20 * metrics["dense_val/ppl"]
    assert metrics["hw/edp_js"] > 0


@pytest.mark.slow
def test_search_on_a_causal_lm_holds_a_perplexity_budget(make_cfg, tiny_llama_dir):
    cfg = tiny_lm(make_cfg, tiny_llama_dir, "tasd=tasder", "tasd.max_increase=0.05",
                  "tasd.refine_trials=4", "data.calib_windows=8", "cost.phase=decode",
                  "cost.context=16")  # fmt: skip
    metrics, objects = evaluate(cfg)
    search = json.loads((Path(cfg.output_dir) / "results.json").read_text())["search"]
    assert search["metric"] == "loglik" and search["sensitivity"] == "fisher"
    assert search["max_drop"] == pytest.approx(math.log1p(0.05))
    assert (search["search_samples"], search["holdout_samples"]) == (6, 2)  # 8 windows, 30% held
    assert "lm_head" not in objects["plan"].decomposed()  # kept dense, as uniform keeps it
    assert metrics["calib/drop_search"] <= search["max_drop"] + 1e-12
    assert (Path(cfg.output_dir) / "plan.yaml").is_file()


def test_search_on_a_causal_lm_without_calibration_windows_names_the_option(
    make_cfg, tiny_llama_dir
):
    from tasder_plugin.search import CalibrationError

    cfg = tiny_lm(make_cfg, tiny_llama_dir, "tasd=tasder", "data.calib_windows=0")
    with pytest.raises(CalibrationError, match=r"data.calib_windows=16"):
        evaluate(cfg)


def test_a_causal_lm_on_sentences_or_without_data_is_one_line(make_cfg, tiny_llama_dir):
    from tasder_plugin.data import DataError
    from tasder_plugin.errors import ConfigError

    with pytest.raises(ConfigError, match="use mode=eval"):
        evaluate(tiny_lm(make_cfg, tiny_llama_dir, "mode=cost"))
    sentences = make_cfg("model=hf_causal_lm", f"model.checkpoint={tiny_llama_dir}",
                         "data=sentences")  # fmt: skip
    with pytest.raises(DataError, match="token windows"):
        evaluate(sentences)


@pytest.mark.slow
def test_decode_costs_one_token_against_the_cache(make_cfg, tiny_llama_dir):
    cfg = tiny_lm(make_cfg, tiny_llama_dir, "tasd=uniform", "cost.phase=decode",
                  "cost.context=20", "cost.batch_size=2")  # fmt: skip
    metrics, objects = evaluate(cfg)
    gemms = {r.fqn: r for r in objects["profile"].records}
    assert gemms["model.layers.0.mlp.down_proj"].M == 2  # one new token per sequence
    assert gemms["lm_head"].M == 2
    qk = gemms["model.layers.0.self_attn.sdpa0.qk"]
    # one query per (sequence, head): 2 x 4 GEMMs of M=1 against 20 cached + 1 new keys
    assert (qk.M, qk.groups, qk.N) == (1, 2 * 4, 2 * 4 * 21)
    record = json.loads((Path(cfg.output_dir) / "results.json").read_text())
    assert record["cost"] == {"batch_size": 2, "stats_samples": 2, "phase": "decode",
                              "context": 20}  # fmt: skip
    prefill, _ = evaluate(tiny_lm(make_cfg, tiny_llama_dir, "tasd=uniform"))
    assert metrics["dense_hw/edp_js"] != prefill["dense_hw/edp_js"]


def test_decode_is_for_causal_lms(make_cfg):
    from tasder_plugin.errors import ConfigError

    with pytest.raises(ConfigError, match="cost.phase=decode costs a causal LM"):
        evaluate(make_cfg("cost.phase=decode"))


def test_a_head_named_in_targets_is_decomposed(make_cfg, tiny_llama_dir):
    cfg = tiny_lm(make_cfg, tiny_llama_dir, "tasd=uniform", "tasd.targets=[lm_head]")
    metrics, objects = evaluate(cfg)
    assert [r.fqn for r in objects["reports"]] == ["lm_head"]
    assert "kept_dense" not in json.loads((Path(cfg.output_dir) / "results.json").read_text())


def test_a_corrupt_or_missing_gguf_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("gguf", reason="comes with the lm extra")
    from tasder_plugin.models.adapters import ModelConfig, build_model

    package = tmp_path / "fake_gguf_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = ModelConfig(name="x", source="packaged_gguf", architecture="fake_gguf_pkg",
                         task="causal-lm")  # fmt: skip
    with pytest.raises(ModelLoadError, match="holds no .gguf file"):
        build_model(config)
    (package / "model.gguf").write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(ModelLoadError, match="cannot read the GGUF model") as err:
        build_model(config)
    assert "\n" not in str(err.value)
    with pytest.raises(ModelLoadError, match="not installed"):
        build_model(ModelConfig(name="x", source="packaged_gguf", architecture="no_such_pkg_x",
                                task="causal-lm"))  # fmt: skip
