"""Calibration data for a search: held in memory once, split into a search part and a holdout.

A search that tunes its plan on the very samples that decide whether the budget holds
over-fits them (a 1% budget met on 1,000 images has been seen to cost 5% on unseen data). So the
calibration split is cut, with a fixed seed, into a *search* part (sensitivities, candidate
checks) and a *holdout* part that only verifies the final plan; the harness reports the
evaluation split, which the search never sees, next to both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from ..errors import ConfigError

__all__ = ["Calibration", "CalibrationError", "take_samples"]


class CalibrationError(ConfigError):
    """The calibration data cannot support a search (missing, empty, or too small to split)."""


def _concat(chunks: list):
    if isinstance(chunks[0], dict):
        return {key: torch.cat([c[key] for c in chunks]) for key in chunks[0]}
    return torch.cat(chunks)


def take_samples(inputs, index: torch.Tensor):
    """The samples ``index`` of a batch: a tensor, or a dict of tensors (tokenizer output)."""
    if isinstance(inputs, dict):
        return {key: value[index] for key, value in inputs.items()}
    return inputs[index]


@dataclass(frozen=True)
class Calibration:
    """All calibration samples (``inputs``, optional ``labels``) and the two disjoint parts."""

    inputs: torch.Tensor | dict[str, torch.Tensor]
    labels: torch.Tensor | None
    search: torch.Tensor  # sample indices the search may tune on
    holdout: torch.Tensor  # sample indices that only verify the final plan
    batch_size: int

    @classmethod
    def from_batches(
        cls,
        batches: Iterable,
        *,
        holdout: float = 0.3,
        seed: int = 0,
        batch_size: int | None = None,
        labelled: bool = True,
    ) -> Calibration:
        """Read ``(inputs, labels, ...)`` batches (a DataLoader) once into memory and split them.

        ``labelled=False``: the second item is not a class label (e.g. a sentence index).
        """
        if batches is None:
            raise CalibrationError("a search needs calibration data; none was given")
        inputs, labels, size = [], [], 0
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            inputs.append(x)
            if labelled and isinstance(batch, (tuple, list)) and len(batch) > 1:
                labels.append(torch.as_tensor(batch[1]))
            size = max(size, len(next(iter(x.values())) if isinstance(x, dict) else x))
        if not inputs:
            raise CalibrationError("the calibration data is empty; a search needs samples")
        if not 0.0 <= holdout < 1.0:
            raise CalibrationError(f"holdout must be in [0, 1), got {holdout}")
        x = _concat(inputs)
        count = len(next(iter(x.values())) if isinstance(x, dict) else x)
        n_hold = round(count * holdout)
        if holdout > 0 and (n_hold < 1 or count - n_hold < 1):
            raise CalibrationError(
                f"{count} calibration sample(s) cannot be split into search and holdout parts "
                f"(holdout={holdout}); supply more calibration data"
            )
        order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
        return cls(
            inputs=x,
            labels=torch.cat(labels) if labels else None,
            search=order[n_hold:].sort().values,
            holdout=order[:n_hold].sort().values,
            batch_size=int(batch_size or size),
        )

    @property
    def size(self) -> int:
        return len(self.search) + len(self.holdout)

    def chunks(self, index: torch.Tensor):
        """``(index chunk, inputs chunk)`` pairs of at most ``batch_size`` samples."""
        for start in range(0, len(index), self.batch_size):
            part = index[start : start + self.batch_size]
            yield part, take_samples(self.inputs, part)
