"""Progress bars show on a terminal only: never in captured test output, logs, or with
TASDER_PROGRESS=0."""

import io
import sys

import pytest
import torch
from torch import nn

from evaluation import dense_cache
from tasder_plugin.models.adapters import ModelConfig
from tasder_plugin.profile import profile_model
from tasder_plugin.progress import progress_enabled


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Linear(16, 4))


def test_progress_needs_a_terminal_and_can_be_turned_off(monkeypatch):
    monkeypatch.delenv("TASDER_PROGRESS", raising=False)
    assert not progress_enabled()  # pytest captures stderr: not a terminal
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert progress_enabled()
    monkeypatch.setenv("TASDER_PROGRESS", "0")
    assert not progress_enabled()


def test_profile_bar_counts_gemm_layers(capsys):
    profile_model(mlp(), torch.randn(2, 8), progress=True)
    err = capsys.readouterr().err
    assert "profile: 100%" in err and "3/3" in err
    profile_model(mlp(), torch.randn(2, 8))  # the default: quiet where nobody watches
    assert capsys.readouterr().err == ""


def test_dense_cache_says_whether_the_dense_model_runs(make_cfg, monkeypatch, capsys):
    cfg = make_cfg()
    cfg.trainer.enable_progress_bar = True
    monkeypatch.setattr(dense_cache, "progress_enabled", lambda: True)
    model_cfg = ModelConfig(name=cfg.model.name, architecture=cfg.model.architecture)
    runs = []

    def compute():
        runs.append(1)
        return {"val/acc1": 0.5, "predictions": torch.tensor([1, 0])}

    first = dense_cache.dense_accuracy(cfg, model_cfg, compute)
    assert "reference_resnet on digits: not cached; running" in capsys.readouterr().err
    again = dense_cache.dense_accuracy(cfg, model_cfg, compute)
    assert "read from the cache" in capsys.readouterr().err
    assert runs == [1] and again["val/acc1"] == first["val/acc1"]
    cfg.trainer.enable_progress_bar = False  # the run's own switch silences it too
    dense_cache.dense_accuracy(cfg, model_cfg, compute)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("override", ["model.checkpoint", "data=glue_sst2 data.path"])
def test_dense_cache_key_follows_files_in_local_directories(override, make_cfg, tmp_path):
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "weights.bin").write_bytes(b"1234")
    cfg = make_cfg(*f"{override}={tmp_path / 'copy'}".split())
    model_cfg = ModelConfig(checkpoint=cfg.model.checkpoint)
    before = dense_cache.dense_key(cfg, model_cfg)
    assert dense_cache.dense_key(cfg, model_cfg) == before
    (tmp_path / "copy" / "weights.bin").write_bytes(b"123456")  # rewritten in place
    assert dense_cache.dense_key(cfg, model_cfg) != before
