"""Randomly initialised models the integration tests run on (offline), with an example input.

Each factory returns ``(model, example_input)``; ``example_input`` is a tensor (vision) or a dict
of keyword arguments (HuggingFace). HuggingFace models are built from small configs.
"""

from __future__ import annotations

import timm
import torch
import transformers

TIMM_MODELS = [
    "resnet50",
    "resnet18",
    "mobilenetv3_large_100",
    "efficientnet_b0",
    "convnext_tiny",
    "vit_small_patch16_224",
    "deit_tiny_patch16_224",
]
HF_MODELS = ["bert", "distilbert", "gpt2", "hf_vit"]
ALL_MODELS = TIMM_MODELS + HF_MODELS


def _text_batch(vocab: int, batch: int = 2, length: int = 16) -> dict:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, vocab, (batch, length), generator=gen)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def build(name: str, batch: int = 1) -> tuple[torch.nn.Module, object]:
    torch.manual_seed(0)
    if name in TIMM_MODELS:
        model = timm.create_model(name, pretrained=False).eval()
        size = 224 if "vit" in name or "deit" in name else 96
        return model, torch.randn(batch, 3, size, size)
    small = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
    if name == "bert":
        config = transformers.BertConfig(vocab_size=500, **small)
        return transformers.BertModel(config).eval(), _text_batch(500, batch)
    if name == "distilbert":
        config = transformers.DistilBertConfig(
            vocab_size=500, dim=64, n_layers=2, n_heads=4, hidden_dim=128
        )
        return transformers.DistilBertModel(config).eval(), _text_batch(500, batch)
    if name == "gpt2":
        config = transformers.GPT2Config(
            vocab_size=500, n_embd=64, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0
        )
        return transformers.GPT2Model(config).eval(), _text_batch(500, batch)
    if name == "hf_vit":
        config = transformers.ViTConfig(image_size=64, patch_size=8, **small)
        return transformers.ViTModel(config).eval(), {"pixel_values": torch.randn(batch, 3, 64, 64)}
    raise ValueError(f"unknown test model {name!r}; known: {ALL_MODELS}")


def run(model: torch.nn.Module, example) -> torch.Tensor:
    """Forward pass returning one tensor (the HF last hidden state)."""
    with torch.no_grad():
        out = model(**example) if isinstance(example, dict) else model(example)
    return out if isinstance(out, torch.Tensor) else out[0]
