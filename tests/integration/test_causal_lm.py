"""Causal LMs: surgery on LLaMA / GPT-2 / OPT blocks, tied embeddings, perplexity windows."""

import math

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader

from evaluation.module import PerplexityEvaluation
from tasder_plugin import ModelPlan, apply_tasd_, remove_tasd_
from tasder_plugin.data import DataError, build_data
from tasder_plugin.data.token_stream import TokenWindows, pydocs_text, tokenize, windows
from tasder_plugin.nn import tasd_layers
from tests.lm_fixtures import tiny_causal_lm, tokenizer_in

# The GEMM layers of each family's blocks, and the output embedding.
BLOCK_LAYERS = {
    "llama": {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"},
    "gpt2": {"c_attn", "c_proj", "c_fc"},  # HF Conv1D (weights stored (in, out))
    "opt": {"q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"},
}


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return tokenizer_in(tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="module")
def stream(tokenizer):
    return tokenize(tokenizer, pydocs_text()[:20000])


@pytest.mark.parametrize("family", sorted(BLOCK_LAYERS))
def test_block_layers_decompose_and_restore_exactly(family, tokenizer, stream):
    model = tiny_causal_lm(family, tokenizer.vocab_size)
    x = windows(stream, 32)[:2]
    with torch.no_grad():
        dense = model(input_ids=x).logits
    before = {k: v.clone() for k, v in model.state_dict().items()}
    reports = apply_tasd_(model, ModelPlan.uniform(model, "2:4"))
    decomposed = {fqn.rsplit(".", 1)[-1] for fqn in tasd_layers(model)}
    assert BLOCK_LAYERS[family] <= decomposed
    assert all(r.weights == "2:4" for r in reports if r.fqn.split(".")[-1] in BLOCK_LAYERS[family])
    with torch.no_grad():
        assert not torch.allclose(model(input_ids=x).logits, dense)
    remove_tasd_(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with torch.no_grad():
        assert torch.equal(model(input_ids=x).logits, dense)


def test_tied_lm_head_never_changes_the_embedding(tokenizer, stream):
    model = tiny_causal_lm("llama", tokenizer.vocab_size)
    embedding, head = model.get_input_embeddings(), model.get_output_embeddings()
    assert head.weight is embedding.weight  # tied, as SmolLM2's
    original = embedding.weight.detach().clone()
    x = windows(stream, 32)[:1]
    with torch.no_grad():
        dense_logits = model(input_ids=x).logits
    apply_tasd_(model, ModelPlan({"lm_head": ModelPlan.uniform(model, "2:4")["lm_head"]}))
    assert torch.equal(embedding.weight, original)  # the lookup is untouched
    assert head.weight is not embedding.weight
    assert int((head.weight != 0).sum()) == original.numel() // 2
    with torch.no_grad():  # the embedding of the same tokens is dense, the head is not
        assert torch.equal(embedding(x), torch.nn.functional.embedding(x, original))
        assert not torch.allclose(model(input_ids=x).logits, dense_logits)
    remove_tasd_(model)
    assert head.weight is embedding.weight and torch.equal(embedding.weight, original)
    with torch.no_grad():
        assert torch.equal(model(input_ids=x).logits, dense_logits)


def test_perplexity_equals_a_hand_loop_with_transformers_loss(tokenizer, stream):
    model = tiny_causal_lm("llama", tokenizer.vocab_size)
    cut = windows(stream, 48)[:5]
    module = PerplexityEvaluation(model)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False)  # fmt: skip
    loader = DataLoader(TokenWindows(cut), batch_size=2)
    ppl = trainer.validate(module, dataloaders=loader, verbose=False)[0]["val/ppl"]
    with torch.no_grad():  # one window at a time, transformers' own shifted loss
        losses = [float(model(input_ids=w[None], labels=w[None]).loss) for w in cut]
    assert ppl == pytest.approx(math.exp(sum(losses) / len(losses)), rel=1e-5)


def test_windows_drop_the_partial_tail_and_parts_are_disjoint(tokenizer):
    ids = torch.arange(103)
    assert windows(ids, 10).shape == (10, 10) and int(windows(ids, 10)[-1, -1]) == 99
    facts = {"tokenizer": tokenizer, "next_token": True}
    node = {"name": "pydocs", "kind": "pydocs", "seq_len": 64, "eval_windows": None,
            "calib_windows": 16}  # fmt: skip
    data = build_data(node, facts)
    evaluation = torch.cat([b[0]["input_ids"] for b in data.eval])
    calib = torch.cat([b[0]["input_ids"] for b in data.calib])
    total = len(tokenize(tokenizer, pydocs_text())) // 64
    assert len(evaluation) + len(calib) == total and len(calib) == 16
    stream_ = tokenize(tokenizer, pydocs_text())
    assert torch.equal(torch.cat([evaluation.flatten(), calib.flatten()]), stream_[: total * 64])


def test_text_too_short_for_its_windows_is_one_line(tokenizer, tmp_path):
    text = tmp_path / "short.txt"
    text.write_text("only a few words here")
    node = {"name": "textfile", "kind": "textfile", "path": str(text), "seq_len": 64}
    facts = {"tokenizer": tokenizer, "next_token": True}
    with pytest.raises(DataError, match="need more"):
        build_data({**node, "calib_windows": 1}, facts)
    with pytest.raises(DataError, match="names no file"):
        build_data({**node, "path": str(tmp_path / "missing.txt")}, facts)
    with pytest.raises(DataError, match="longer than the model reads"):
        build_data(node, {**facts, "max_positions": 32})
    with pytest.raises(DataError, match="causal language model with a tokenizer"):
        build_data(node, {"tokenizer": tokenizer})  # a classifier's tokenizer: not a causal LM


def test_pydocs_takes_no_path():
    from tasder_plugin.errors import TasderUserError

    with pytest.raises(TasderUserError, match="path"):
        build_data({"name": "pydocs", "kind": "pydocs", "path": "my.txt"}, {})


def test_padded_sentences_are_not_scored_as_a_token_stream(tokenizer):
    module = PerplexityEvaluation(tiny_causal_lm("llama", tokenizer.vocab_size))
    batch = dict(tokenizer(["a b c", "d"], padding=True, return_tensors="pt"))
    with pytest.raises(DataError, match="token windows: use data=pydocs"):
        module.validation_step((batch, torch.arange(2)), 0)


def test_a_nan_loss_gives_a_nan_perplexity(tokenizer, stream):
    model = tiny_causal_lm("llama", tokenizer.vocab_size)
    with torch.no_grad():
        model.model.norm.weight[0] = float("nan")
    module = PerplexityEvaluation(model)
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False)  # fmt: skip
    loader = DataLoader(TokenWindows(windows(stream, 16)[:2]), batch_size=1)
    assert math.isnan(trainer.validate(module, dataloaders=loader, verbose=False)[0]["val/ppl"])


def test_wikitext2_reads_eval_and_calibration_from_their_own_splits(tokenizer, tmp_path):
    import datasets

    text = pydocs_text()
    rows = {"test": text[:6000].split("\n"), "train": text[6000:12000].split("\n")}
    local = tmp_path / "wikitext"
    datasets.DatasetDict(
        {split: datasets.Dataset.from_dict({"text": lines}) for split, lines in rows.items()}
    ).save_to_disk(str(local))
    node = {"name": "wikitext2", "kind": "hf_text_stream", "dataset": "wikitext",
            "config": "wikitext-2-raw-v1", "path": str(local), "seq_len": 32,
            "calib_windows": 3}  # fmt: skip
    data = build_data(node, {"tokenizer": tokenizer, "next_token": True})
    evaluation = torch.cat([b[0]["input_ids"] for b in data.eval])
    calib = torch.cat([b[0]["input_ids"] for b in data.calib])
    expected = windows(tokenize(tokenizer, "\n\n".join(rows["test"])), 32)
    assert torch.equal(evaluation, expected)  # every window of the test split, in order
    assert torch.equal(calib, windows(tokenize(tokenizer, "\n\n".join(rows["train"])), 32)[:3])
    offline = {**node, "path": None}
    with pytest.raises(DataError, match="data.path=/path/to/copy"):
        build_data(offline, {"tokenizer": tokenizer, "next_token": True})
