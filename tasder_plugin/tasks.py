"""``Task``: what a model is evaluated and searched as, named once in ``model.task``.

A task says what the model outputs (class logits or an embedding: which search scorer and which
evaluation module apply, and whether samples carry labels), what it reads (images or text: which
preprocessing a HuggingFace model needs), the ``transformers`` Auto class that loads it, and its
headline metric with the direction that is better. Code asks the task, never compares names.
"""

from __future__ import annotations

from dataclasses import dataclass

from .registry import Registry

__all__ = ["TASKS", "Task"]


@dataclass(frozen=True)
class Task:
    name: str
    output: str  # "logits" (classes; labelled samples), "embedding" or "next_token" (causal LM)
    modality: str  # "image" or "text": what the model reads
    hf_auto_class: str  # the transformers Auto class that loads it
    metric: str  # the headline validation metric
    higher_is_better: bool = True

    @property
    def classifies(self) -> bool:
        """The model outputs class scores, and its samples carry labels."""
        return self.output == "logits"

    @property
    def predicts_tokens(self) -> bool:
        """A causal LM: scored by perplexity on token windows, costed per prefill or decode."""
        return self.output == "next_token"

    @classmethod
    def parse(cls, name: str | Task) -> Task:
        """A registered task by name (a one-line error naming the valid ones otherwise)."""
        return name if isinstance(name, Task) else TASKS.get(str(name))

    def __str__(self) -> str:
        return self.name


TASKS: Registry[Task] = Registry("model.task")
for _task in (
    Task("classification", "logits", "image", "AutoModel", "val/acc1"),
    Task("image-classification", "logits", "image", "AutoModelForImageClassification", "val/acc1"),
    Task("text-classification", "logits", "text", "AutoModelForSequenceClassification", "val/acc1"),
    Task("embedding", "embedding", "text", "AutoModel", "val/fidelity"),
    Task("causal-lm", "next_token", "text", "AutoModelForCausalLM", "val/ppl", False),
):
    TASKS.add(_task.name, _task)
