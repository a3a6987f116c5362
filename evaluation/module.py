"""A Lightning module that only evaluates: top-1, top-5, loss, agreement with the dense model."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn


class ClassificationEvaluation(pl.LightningModule):
    """Wraps a classifier for ``Trainer.validate``. ``dense_predictions[i]`` is the dense model's
    top-1 class of sample ``i``; when given, the share of samples where TASD agrees is logged."""

    def __init__(self, model: nn.Module, num_classes: int, dense_predictions=None):
        super().__init__()
        self.model = model
        self.top1 = torchmetrics.Accuracy("multiclass", num_classes=num_classes, top_k=1)
        self.top5 = torchmetrics.Accuracy(
            "multiclass", num_classes=num_classes, top_k=min(5, num_classes)
        )
        self.loss = torchmetrics.MeanMetric()
        self.agreement = torchmetrics.MeanMetric()
        self.dense_predictions = dense_predictions
        self.predictions: dict[int, int] = {}

    def validation_step(self, batch, batch_idx):
        x, y, index = batch
        logits = self.model(x)
        self.top1.update(logits, y)
        self.top5.update(logits, y)
        self.loss.update(F.cross_entropy(logits, y, reduction="none"))
        predicted = logits.argmax(1)
        self.predictions.update(zip(index.tolist(), predicted.tolist()))
        if self.dense_predictions is not None:
            dense = self.dense_predictions.to(predicted.device)[index]
            self.agreement.update((predicted == dense).float())

    def on_validation_epoch_end(self):
        self.log("val/acc1", self.top1.compute())
        self.log("val/acc5", self.top5.compute())
        self.log("val/loss", self.loss.compute())
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
        hidden = self.model(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        embedded = F.normalize(pooled, dim=-1)
        self.embeddings.update(zip(index.tolist(), embedded.detach().cpu()))
        if self.dense_embeddings is not None:
            dense = self.dense_embeddings.to(embedded.device)[index]
            cosine = F.cosine_similarity(embedded.double(), dense.double(), dim=-1)
            self.fidelity.update(cosine)

    def on_validation_epoch_end(self):
        if self.dense_embeddings is not None:
            self.log("val/fidelity", self.fidelity.compute())

    def prediction_tensor(self) -> torch.Tensor:
        return torch.stack([self.embeddings[i] for i in sorted(self.embeddings)])
