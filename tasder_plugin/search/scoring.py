"""How a search compares a decomposed model with the dense one, per kind of model output.

Each scorer turns a batch into outputs, and two outputs into per-sample numbers:
``divergence`` (smooth, >= 0, 0 when identical: the sensitivity signal) and ``quality``
(what the budget is stated in: top-1 correctness for classifiers, cosine similarity to the dense
embedding for embedding models). Per-sample values let the search average over any part.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..nn.forward import call_model, logits_of, sentence_embedding
from ..registry import Registry
from ..tasks import Task

__all__ = ["SCORERS", "Scorer", "get_scorer", "register_scorer"]


class Scorer:
    """Base: subclasses define ``outputs``, ``divergence`` and ``quality``."""

    metric = "quality"
    max_quality = 1.0  # no sample scores above this (what lets a budget check stop early)

    def outputs(self, model: nn.Module, inputs) -> torch.Tensor:
        raise NotImplementedError

    def divergence(self, dense: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def quality(self, dense: torch.Tensor, out: torch.Tensor, labels) -> torch.Tensor:
        raise NotImplementedError


SCORERS: Registry[Scorer] = Registry("task output")  # keyed by Task.output


def register_scorer(output: str):
    """Class decorator: the scorer of every task whose ``output`` is ``output``."""

    def decorate(cls):
        SCORERS.add(output, cls())
        return cls

    return decorate


def get_scorer(task: Task | str) -> Scorer:
    """The scorer for a task (or task name): the one registered for what the model outputs."""
    task = Task.parse(task)
    if task.output not in SCORERS.names():
        raise ConfigError(
            f"a search cannot score {task.name} models yet (no scorer for {task.output!r} "
            "outputs); use a fixed plan: tasd=uniform, tasd=auto or tasd=plan"
        )
    return SCORERS.get(task.output)


@register_scorer("logits")
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
        return F.cosine_similarity(out.double(), dense.double(), dim=-1).clamp(max=1.0)
