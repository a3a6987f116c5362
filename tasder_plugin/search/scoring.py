"""How a search compares a decomposed model with the dense one, per task.

Each scorer turns a batch into outputs, and two outputs into per-sample numbers:
``divergence`` (smooth, >= 0, 0 when identical: the sensitivity signal) and ``quality``
(what the budget is stated in: top-1 correctness for classifiers, cosine similarity to the dense
embedding for embedding models). Per-sample values let the search average over any part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Scorer",
    "call_model",
    "get_scorer",
    "logits_of",
    "register_scorer",
    "sentence_embedding",
]


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


class Scorer:
    """Base: subclasses define ``outputs``, ``divergence`` and ``quality``."""

    metric = "quality"

    def outputs(self, model: nn.Module, inputs) -> torch.Tensor:
        raise NotImplementedError

    def divergence(self, dense: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def quality(self, dense: torch.Tensor, out: torch.Tensor, labels) -> torch.Tensor:
        raise NotImplementedError


_SCORERS: dict[str, Callable[[], Scorer]] = {}


def register_scorer(task: str):
    def decorate(cls):
        _SCORERS[task] = cls
        return cls

    return decorate


def get_scorer(task: str) -> Scorer:
    if task not in _SCORERS:
        raise ValueError(f"no search scorer for task {task!r}; known: {sorted(_SCORERS)}")
    return _SCORERS[task]()


@register_scorer("classification")
@register_scorer("text-classification")
class ClassificationScorer(Scorer):
    """KL(dense || decomposed) of the class distributions; top-1 against the labels (or, with
    no labels, agreement with the dense top-1)."""

    metric = "top1"

    def outputs(self, model: nn.Module, inputs) -> torch.Tensor:
        return logits_of(call_model(model, inputs)).float()

    def divergence(self, dense: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(dense, dim=-1)
        log_q = F.log_softmax(out, dim=-1)
        return (log_p.exp() * (log_p - log_q)).sum(-1).clamp(min=0)

    def quality(self, dense: torch.Tensor, out: torch.Tensor, labels) -> torch.Tensor:
        target = dense.argmax(-1) if labels is None else labels
        return (out.argmax(-1) == target).double()


@register_scorer("embedding")
class EmbeddingScorer(Scorer):
    """1 - cosine similarity to the dense embedding; quality is that cosine (dense: 1.0)."""

    metric = "fidelity"

    def outputs(self, model: nn.Module, inputs) -> torch.Tensor:
        return sentence_embedding(model, inputs).float()

    def divergence(self, dense: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return (1 - self.quality(dense, out, None)).clamp(min=0)

    def quality(self, dense: torch.Tensor, out: torch.Tensor, labels) -> torch.Tensor:
        return F.cosine_similarity(out.double(), dense.double(), dim=-1)
