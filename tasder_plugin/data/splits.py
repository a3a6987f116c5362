"""The fixed, stratified, disjoint train / calib / eval split every bundled dataset uses.

``train`` trains the reference models, ``calib`` is what a TASDER search may look at, ``eval``
is only ever used to report accuracy. Per class, a seeded shuffle cut by the fractions: the same
indices on every machine, and each split holds every class in proportion.
"""

from __future__ import annotations

import torch

__all__ = ["SPLIT_FRACTIONS", "stratified_split"]

SPLIT_FRACTIONS = {"train": 0.6, "calib": 0.2, "eval": 0.2}


def stratified_split(labels: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """Sorted sample indices of each split (``SPLIT_FRACTIONS``), class by class."""
    gen = torch.Generator().manual_seed(seed)
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in SPLIT_FRACTIONS}
    for cls in labels.unique().tolist():
        idx = (labels == cls).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_train = round(len(idx) * SPLIT_FRACTIONS["train"])
        n_calib = round(len(idx) * SPLIT_FRACTIONS["calib"])
        parts["train"].append(idx[:n_train])
        parts["calib"].append(idx[n_train : n_train + n_calib])
        parts["eval"].append(idx[n_train + n_calib :])
    return {name: torch.cat(chunks).sort().values for name, chunks in parts.items()}
