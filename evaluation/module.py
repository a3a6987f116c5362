"""Lightning modules that only evaluate: top-1, top-5, loss, agreement with the dense model
(plus F1 when the model config asks for it), fidelity of sentence embeddings, or a causal LM's
perplexity."""

from __future__ import annotations

from collections.abc import Sequence

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from tasder_plugin.data import DataError
from tasder_plugin.errors import ConfigError
from tasder_plugin.models.adapters import ModelConfig
from tasder_plugin.models.preprocessing import num_classes
from tasder_plugin.nn.forward import (
    call_model,
    logits_of,
    next_token_logits,
    sentence_embedding,
    token_nll,
)
from tasder_plugin.registry import Registry

__all__ = [
    "EVALUATIONS",
    "ClassificationEvaluation",
    "EmbeddingEvaluation",
    "EXTRA_METRICS",
    "PerplexityEvaluation",
    "evaluation_module",
]

# Metrics a model config may add with ``metrics: [...]``, logged as ``val/<name>``.
EXTRA_METRICS = ("f1",)


def evaluation_module(model_cfg: ModelConfig, model: nn.Module, dense_predictions=None):
    """The evaluation module for what the model's task outputs (``Task.output``)."""
    return EVALUATIONS.get(model_cfg.task.output)(model_cfg, model, dense_predictions)


EVALUATIONS: Registry = Registry("task output")  # Task.output -> fn(model_cfg, model, dense)


@EVALUATIONS.entry("embedding")
def _embedding(model_cfg: ModelConfig, model: nn.Module, dense_predictions):
    if model_cfg.metrics:
        raise ConfigError(f"model.metrics {model_cfg.metrics} needs a classifier, not embeddings")
    return EmbeddingEvaluation(model, dense_predictions)


@EVALUATIONS.entry("next_token")
def _perplexity(model_cfg: ModelConfig, model: nn.Module, dense_predictions):
    if model_cfg.metrics:
        raise ConfigError(f"model.metrics {model_cfg.metrics} needs a classifier, not a causal LM")
    return PerplexityEvaluation(model, dense_predictions)


@EVALUATIONS.entry("logits")
def _classification(model_cfg: ModelConfig, model: nn.Module, dense_predictions):
    classes = num_classes(model_cfg, model)
    if classes is None:
        raise ConfigError(
            f"model {model_cfg.name} does not say how many classes it has: set model.num_classes"
        )
    return ClassificationEvaluation(model, classes, dense_predictions, model_cfg.metrics)


def _f1(num_classes: int) -> torchmetrics.Metric:
    """Binary F1 of class 1 (GLUE's positive class) for two classes, else macro-averaged."""
    if num_classes == 2:
        return torchmetrics.F1Score("binary")
    return torchmetrics.F1Score("multiclass", num_classes=num_classes, average="macro")


def _in_sample_order(per_sample: dict[int, torch.Tensor]) -> torch.Tensor:
    """Per-sample tensors stacked by sample index (what the dense cache stores)."""
    return torch.stack([per_sample[i] for i in sorted(per_sample)])


class ClassificationEvaluation(pl.LightningModule):
    """Wraps a classifier for ``Trainer.validate``. ``dense_predictions[i]`` is the dense model's
    top-1 class of sample ``i``; when given, the share of samples where TASD agrees is logged.
    ``metrics`` names extra metrics from :data:`EXTRA_METRICS`."""

    def __init__(
        self,
        model: nn.Module,
        num_classes: int,
        dense_predictions=None,
        metrics: Sequence[str] = (),
    ):
        super().__init__()
        unknown = [name for name in metrics if name not in EXTRA_METRICS]
        if unknown:
            raise ConfigError(
                f"unknown metric {unknown[0]!r} in model.metrics; known: {EXTRA_METRICS}"
            )
        self.model = model
        self.top1 = torchmetrics.Accuracy("multiclass", num_classes=num_classes, top_k=1)
        self.top5 = torchmetrics.Accuracy(
            "multiclass", num_classes=num_classes, top_k=min(5, num_classes)
        )
        self.extra = nn.ModuleDict({"f1": _f1(num_classes)} if "f1" in metrics else {})
        self.loss = torchmetrics.MeanMetric()
        self.agreement = torchmetrics.MeanMetric()
        self.dense_predictions = dense_predictions
        self.predictions: dict[int, int] = {}

    def validation_step(self, batch, batch_idx):
        x, y, index = batch
        logits = logits_of(call_model(self.model, x))
        self.top1.update(logits, y)
        self.top5.update(logits, y)
        self.loss.update(F.cross_entropy(logits, y, reduction="none"))
        predicted = logits.argmax(1)
        for metric in self.extra.values():
            metric.update(predicted, y)
        self.predictions.update(zip(index.tolist(), predicted.tolist()))
        if self.dense_predictions is not None:
            dense = self.dense_predictions.to(predicted.device)[index]
            self.agreement.update((predicted == dense).float())

    def on_validation_epoch_end(self):
        self.log("val/acc1", self.top1.compute())
        self.log("val/acc5", self.top5.compute())
        self.log("val/loss", self.loss.compute())
        for name, metric in self.extra.items():
            self.log(f"val/{name}", metric.compute())
        if self.dense_predictions is not None:
            self.log("val/agreement", self.agreement.compute())

    def prediction_tensor(self) -> torch.Tensor:
        return torch.tensor([self.predictions[i] for i in sorted(self.predictions)])


class EmbeddingEvaluation(pl.LightningModule):
    """Sentence embeddings (mean pooling over the attention mask, L2-normalised, as
    sentence-transformers defines them for MiniLM). With the dense model's embeddings given,
    logs ``val/fidelity``: the mean cosine similarity of each embedding to the dense one."""

    def __init__(self, model: nn.Module, dense_embeddings=None):
        super().__init__()
        self.model = model
        self.fidelity = torchmetrics.MeanMetric()
        self.dense_embeddings = dense_embeddings
        self.embeddings: dict[int, torch.Tensor] = {}

    def validation_step(self, batch, batch_idx):
        inputs, index = batch
        embedded = sentence_embedding(self.model, inputs)
        self.embeddings.update(zip(index.tolist(), embedded.detach().cpu()))
        if self.dense_embeddings is not None:
            dense = self.dense_embeddings.to(embedded.device)[index]
            cosine = F.cosine_similarity(embedded.double(), dense.double(), dim=-1)
            self.fidelity.update(cosine)

    def on_validation_epoch_end(self):
        if self.dense_embeddings is not None:
            self.log("val/fidelity", self.fidelity.compute())

    def prediction_tensor(self) -> torch.Tensor:
        return _in_sample_order(self.embeddings)


class PerplexityEvaluation(pl.LightningModule):
    """Perplexity of a causal LM over token windows, as Wanda and SparseGPT compute it: every
    token after the first of each window is predicted from those before it, and
    ``val/ppl = exp(val/nll)``, the mean negative log-likelihood over all predicted tokens.
    With the dense model's next-token predictions given, ``val/agreement`` is the share of
    positions where the decomposed model predicts the same token."""

    def __init__(self, model: nn.Module, dense_predictions=None):
        super().__init__()
        self.model = model
        # float64 sums; a NaN loss must give a NaN perplexity, never be dropped from the sum
        self.nll_sum = torchmetrics.SumMetric(nan_strategy="disable").set_dtype(torch.float64)
        self.tokens = torchmetrics.SumMetric(nan_strategy="disable").set_dtype(torch.float64)
        self.agreement = torchmetrics.MeanMetric()
        self.dense_predictions = dense_predictions
        self.predictions: dict[int, torch.Tensor] = {}

    def validation_step(self, batch, batch_idx):
        inputs, index = batch
        if not isinstance(inputs, dict) or set(inputs) != {"input_ids"}:
            raise DataError(
                "a causal LM is scored on token windows: use data=pydocs, data=textfile or "
                "data=wikitext2 (padded sentences would count padding as predicted tokens)"
            )
        ids = inputs["input_ids"]
        logits = next_token_logits(self.model, inputs)
        self.nll_sum.update(token_nll(logits, ids).double().sum())
        self.tokens.update(torch.tensor(float(ids[:, 1:].numel()), dtype=torch.float64))
        predicted = logits.argmax(-1)
        self.predictions.update(zip(index.tolist(), predicted.cpu()))
        if self.dense_predictions is not None:
            dense = self.dense_predictions.to(predicted.device)[index]
            self.agreement.update((predicted == dense).float())

    def on_validation_epoch_end(self):
        nll = self.nll_sum.compute() / self.tokens.compute()
        self.log("val/nll", nll)
        self.log("val/ppl", torch.exp(nll))
        if self.dense_predictions is not None:
            self.log("val/agreement", self.agreement.compute())

    def prediction_tensor(self) -> torch.Tensor:
        return _in_sample_order(self.predictions)
