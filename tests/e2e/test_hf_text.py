"""HuggingFace SST-2 classifiers, offline: the hub path fails in one line, and local copies of
the model (save_pretrained) and the data (save_to_disk) run end to end with top-1 and F1."""

import shutil

import pytest
import torch
from sklearn.metrics import f1_score

from evaluation.module import ClassificationEvaluation, evaluation_module
from evaluation.run import evaluate
from tasder_plugin.models.adapters import ModelConfig, ModelLoadError, build_model
from tasder_plugin.models.preprocessing import data_config

from .hf_fixtures import TOKENIZER_FILES, save_text_splits, sentences, tiny_bert
from .test_evaluate import run_cli


@pytest.fixture(scope="module")
def sst2(tmp_path_factory):
    """(model dir, data dir, dense predictions, labels): labels agree with the model on 3/4."""
    root = tmp_path_factory.mktemp("sst2")
    texts = sentences(24, seed=1)
    predictions = tiny_bert(root / "model", texts).tolist()
    labels = [p if i % 4 else 1 - p for i, p in enumerate(predictions)]
    train = sentences(40, seed=2)
    splits = {"train": (train, [i % 2 for i in range(40)]), "validation": (texts, labels)}
    return root / "model", save_text_splits(root / "data", splits), predictions, labels


def hf_config(model_dir, **fields) -> ModelConfig:
    base = dict(name="tiny", source="hf", architecture="unused/offline", checkpoint=str(model_dir))
    return ModelConfig(**{**base, "task": "text-classification", "num_classes": 2, **fields})


@pytest.mark.slow
@pytest.mark.parametrize(
    "model", ["bert_sst2", "distilbert_sst2", "bert_mnli_sp90", "bert_mnli_sp97"]
)
def test_hub_model_offline_is_one_line(model, tmp_path):
    out = run_cli(f"model={model}", tmp_path=tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "model.checkpoint=/path/to/saved_pretrained_dir" in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_bert_sst2_on_local_copies_scores_top1_and_f1(make_cfg, sst2):
    model_dir, data_dir, predictions, labels = sst2
    local = [f"model.checkpoint={model_dir}", f"data.path={data_dir}", "data.batch_size=8",
             "data.max_length=32"]  # fmt: skip
    dense, _ = evaluate(make_cfg("model=bert_sst2", *local, "tasd=none"))
    # the harness batches sentences padded to 32 tokens; the reference ran them one by one
    assert dense["val/acc1"] == pytest.approx(0.75)
    assert dense["val/f1"] == pytest.approx(f1_score(labels, predictions))
    assert dense["val/agreement"] == 1.0
    assert dense["dense_val/f1"] == dense["val/f1"]

    tasd, objects = evaluate(
        make_cfg("model=bert_sst2", *local, "tasd=uniform", "tasd.weights=2:4")
    )
    assert tasd["dense_val/acc1"] == dense["val/acc1"]
    assert tasd["dense_val/f1"] == dense["val/f1"]
    assert tasd["delta_val/f1"] == pytest.approx(tasd["val/f1"] - dense["val/f1"])
    assert 0 <= tasd["val/agreement"] <= 1
    # 2 encoder layers x (q, k, v, attention out, intermediate, out) + pooler + classifier
    assert tasd["tasd/layers_weights"] == 14 and tasd["hw/edp_reduction"] > 0
    assert "bert.encoder.layer.0.attention.self.query" in objects["plan"]  # HF's own names

    searched, _ = evaluate(make_cfg("model=bert_sst2", *local, "tasd=tasder", "hw=vegeta"))
    assert searched["calib/drop_search"] <= 0.01 and searched["calib/drop_holdout"] <= 0.01
    assert searched["dense_val/f1"] == dense["val/f1"]  # dict inputs and .logits in the search


def test_hf_outputs_give_logits_and_binary_f1(sst2):
    model_cfg = hf_config(sst2[0], metrics=["f1"])
    model = build_model(model_cfg)
    module = evaluation_module(model_cfg, model)
    tokenizer = data_config(model_cfg, model)["tokenizer"]
    inputs = dict(tokenizer(["good bad", "warm cold rich"], padding=True, return_tensors="pt"))
    targets = torch.tensor([0, 1])
    with torch.no_grad():
        module.validation_step((inputs, targets, torch.arange(2)), 0)
        expected = model(**inputs).logits.argmax(1)
    assert module.prediction_tensor().tolist() == expected.tolist()
    assert float(module.extra["f1"].compute()) == pytest.approx(f1_score(targets, expected))


def test_unknown_or_misplaced_metrics_are_clear_errors():
    with pytest.raises(ValueError, match="unknown metric 'f2'"):
        ClassificationEvaluation(torch.nn.Linear(4, 2), 2, metrics=["f2"])
    embedding = ModelConfig(name="e", task="embedding", metrics=["f1"])
    with pytest.raises(ValueError, match="needs a classifier"):
        evaluation_module(embedding, torch.nn.Linear(4, 2))


def test_head_size_must_match_num_classes(sst2):
    with pytest.raises(ModelLoadError, match="2 output classes but model.num_classes=3"):
        build_model(hf_config(sst2[0], num_classes=3))


def test_checkpoint_directory_without_tokenizer_is_a_clear_error(sst2, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(sst2[0], model_dir, ignore=shutil.ignore_patterns(*TOKENIZER_FILES))
    model_cfg = hf_config(model_dir)
    with pytest.raises(ModelLoadError, match="cannot load a tokenizer"):
        data_config(model_cfg, build_model(model_cfg))


def test_missing_hf_checkpoint_is_named(tmp_path):
    with pytest.raises(ModelLoadError, match="checkpoint not found"):
        build_model(hf_config(tmp_path / "absent"))


def test_weights_file_models_reject_a_directory(tmp_path):
    config = ModelConfig(name="t", source="timm", architecture="test_resnet", pretrained=False)
    config.checkpoint = str(tmp_path)
    with pytest.raises(ModelLoadError, match="is a directory"):
        build_model(config)
