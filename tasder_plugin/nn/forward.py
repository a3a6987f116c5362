"""One forward pass, whatever the model family: how inputs are passed and outputs read.

Shared by the search's scorers and the evaluation modules, so that both call a model the same
way; it lives here, below both, because it only knows ``nn.Module`` and HuggingFace's output
conventions.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["call_model", "logits_of", "next_token_logits", "sentence_embedding", "token_nll"]


def call_model(model: nn.Module, inputs):
    """Tokenised text arrives as a dict of keyword arguments, images as one tensor."""
    return model(**inputs) if isinstance(inputs, Mapping) else model(inputs)


def logits_of(output) -> torch.Tensor:
    """The logits tensor: the output itself, or its ``.logits`` (HuggingFace model outputs). The
    HF model is not wrapped, so its layer names (what plans and ``ignore`` lists use) stay HF's."""
    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    raise TypeError(f"a classifier must return logits, got {type(output).__name__}")


def sentence_embedding(model: nn.Module, inputs: dict) -> torch.Tensor:
    """Mean pooling over the attention mask, L2-normalised (sentence-transformers' MiniLM)."""
    hidden = call_model(model, inputs).last_hidden_state
    mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
    return F.normalize(pooled, dim=-1)


def next_token_logits(model: nn.Module, inputs: Mapping) -> torch.Tensor:
    """A causal LM's logits for every position but the last (each predicts the next token);
    no KV cache is built: a window is scored in one pass."""
    return logits_of(call_model(model, {**inputs, "use_cache": False}))[:, :-1]


def token_nll(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """``(B, T-1)`` negative log-likelihoods of each window's own next tokens (float32)."""
    nll = F.cross_entropy(
        logits.flatten(0, 1).float(), input_ids[:, 1:].flatten(), reduction="none"
    )
    return nll.view(input_ids.shape[0], -1)
