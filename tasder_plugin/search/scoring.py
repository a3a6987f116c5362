"""How a search compares a decomposed model with the dense one, per kind of model output.

Each scorer turns a batch into outputs, and two outputs into per-sample numbers:
``divergence`` (smooth, >= 0, 0 when identical: the sensitivity signal) and ``quality``
(what the budget is stated in: top-1 correctness for classifiers, cosine similarity to the dense
embedding for embedding models, the mean log-likelihood of its tokens for a causal LM's window).
Per-sample values let the search average over any part. A scorer with a differentiable ``loss``
also supports gradient (Fisher) sensitivities (:mod:`.fisher`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..nn.forward import call_model, logits_of, next_token_logits, sentence_embedding, token_nll
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

    # how single-layer sensitivities are measured by default (tasd.sensitivity=auto)
    default_sensitivity = "forward"

    def loss(self, model: nn.Module, inputs) -> tuple[torch.Tensor, int]:
        """A differentiable loss summed over the batch, and how many terms it sums (samples or
        tokens): what a Fisher sensitivity differentiates. None here: forward sensitivities."""
        raise ConfigError(
            f"tasd.sensitivity=fisher needs a differentiable loss, which {self.metric} scoring "
            "has not: use tasd.sensitivity=forward"
        )

    def drop_limit(self, max_drop: float, max_increase: float | None) -> float:
        """The budget as a drop of ``quality``: ``max_drop`` as it is; a relative increase is
        only meaningful for a perplexity."""
        if max_increase is not None:
            raise ConfigError(
                f"tasd.max_increase is a perplexity budget (causal LMs); this model is scored by "
                f"{self.metric}: state its budget as tasd.max_drop"
            )
        return max_drop

    def summary(self, drops: dict[str, float]) -> dict[str, float]:
        """Extra summary fields readable in the model's own metric (none by default)."""
        return {}


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

    def loss(self, model: nn.Module, inputs) -> tuple[torch.Tensor, int]:
        """Cross-entropy against the model's own top-1 (no labels needed: an empirical
        Fisher of the prediction the budget protects)."""
        logits = logits_of(call_model(model, inputs)).float()
        return F.cross_entropy(logits, logits.detach().argmax(-1), reduction="sum"), len(logits)


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


@register_scorer("next_token")
class NextTokenScorer(Scorer):
    """A causal LM's window: its output is the mean negative log-likelihood of the window's own
    next tokens, its quality the mean log-likelihood (so a drop is the NLL increase in nats, and
    for equal-length windows the mean over windows is the stream's: perplexity = exp(NLL)).
    The divergence is that increase (clamped at 0). A budget may be stated as the relative
    perplexity increase ``max_increase``: exactly a drop of ``log1p(max_increase)`` nats.
    Sensitivities default to the Fisher estimate: an LM has hundreds of layers, and a forward
    pass per candidate would take an hour on a CPU."""

    metric = "loglik"
    max_quality = 0.0  # a log-likelihood is at most 0
    default_sensitivity = "fisher"

    def outputs(self, model: nn.Module, inputs) -> torch.Tensor:
        return token_nll(next_token_logits(model, inputs), inputs["input_ids"]).double().mean(-1)

    def divergence(self, dense: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return (out.double() - dense.double()).clamp(min=0)

    def quality(self, dense: torch.Tensor, out: torch.Tensor, labels) -> torch.Tensor:
        return -out.double()

    def loss(self, model: nn.Module, inputs) -> tuple[torch.Tensor, int]:
        nll = token_nll(next_token_logits(model, inputs), inputs["input_ids"])
        return nll.sum(), nll.numel()

    def drop_limit(self, max_drop: float, max_increase: float | None) -> float:
        return max_drop if max_increase is None else math.log1p(max_increase)

    def summary(self, drops: dict[str, float]) -> dict[str, float]:
        """Each part's drop as the perplexity's relative increase."""
        return {f"ppl_increase_{part}": math.expm1(drop) for part, drop in drops.items()}
