"""The reference-model trainer: same bytes whatever the caller's threads; committed files kept."""

import dataclasses
import hashlib
import json

import pytest
import torch

from tasder_plugin.models import REFERENCE_MODELS
from tasder_plugin.models.reference import CHECKPOINT_DIR
from tasder_plugin.models.train_reference import main

TINY = ["--model", "reference_resnet", "--epochs", "1", "--samples", "128"]  # two steps


@pytest.fixture
def no_bar(monkeypatch):
    """A tiny run is far below the accuracy bar; without one it still writes its checkpoint."""
    for name, spec in list(REFERENCE_MODELS.items()):
        monkeypatch.setitem(REFERENCE_MODELS, name, dataclasses.replace(spec, min_accuracy=0.0))


def _digests() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in CHECKPOINT_DIR.iterdir()}


@pytest.mark.slow
@pytest.mark.usefixtures("no_bar")
def test_same_bytes_whatever_the_callers_thread_count(tmp_path):
    caller = torch.get_num_threads()
    try:
        for threads in (1, 3):
            torch.set_num_threads(threads)
            assert main([*TINY, "--out", str(tmp_path / str(threads))]) == 0
            assert torch.get_num_threads() == threads  # the caller's setting comes back
    finally:
        torch.set_num_threads(caller)
    first, second = (tmp_path / t / "reference_resnet.safetensors" for t in ("1", "3"))
    assert first.read_bytes() == second.read_bytes()
    card = json.loads(first.with_suffix(".json").read_text())
    assert card["threads"] == 1 and card["train_samples"] == 128
    assert card["command"].endswith("--threads 1 --samples 128")


@pytest.mark.slow
@pytest.mark.usefixtures("no_bar")
def test_a_sparse_variant_prunes_the_dense_model_written_beside_it(tmp_path):
    assert main([*TINY, "--model", "reference_resnet_sp80", "--out", str(tmp_path)]) == 0
    dense = (tmp_path / "reference_resnet.safetensors").read_bytes()
    card = json.loads((tmp_path / "reference_resnet_sp80.json").read_text())
    assert card["pruned_from_sha256"] == hashlib.sha256(dense).hexdigest()
    assert card["weight_sparsity"] == pytest.approx(0.8, abs=1e-4)


def test_refuses_to_overwrite_the_committed_checkpoints(tmp_path, capsys):
    before = _digests()
    alias = tmp_path / "alias"
    alias.symlink_to(CHECKPOINT_DIR, target_is_directory=True)  # the same folder by another name
    for out in (CHECKPOINT_DIR, alias):
        assert main(["--model", "reference_resnet", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--overwrite" in err and "reference_resnet" in err
    assert _digests() == before


def test_rejects_a_nonpositive_thread_count(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--threads", "0"])
    assert exit_info.value.code == 2 and "positive" in capsys.readouterr().err
