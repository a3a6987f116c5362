"""``CostSettings``: which batch a cost is for, and how many samples its statistics come from.

The harness's ``cost`` node and ``run_search(cost=...)`` take this one class, so the cost of a
searched plan and of the run that evaluates it are computed on the same kind of profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import check

__all__ = ["CostSettings", "costed_step"]


PHASES = ("prefill", "decode")


@dataclass(frozen=True)
class CostSettings:
    """``batch_size``: samples per costed batch (1: the accelerator papers' single-inference
    setting), independent of the evaluation loader's batch. ``stats_samples``: samples the
    activation statistics (density, block histograms) are measured on. Causal LMs only:
    ``phase`` ``prefill`` costs a whole window per sequence (M = batch x tokens), ``decode``
    one new token per sequence against a KV cache of ``context`` tokens (M = batch)."""

    batch_size: int = 1
    stats_samples: int = 32
    phase: str = "prefill"
    context: int = 512

    def __post_init__(self) -> None:
        for name in ("batch_size", "stats_samples", "context"):
            value = getattr(self, name)
            check(value >= 1, name, f"must be an integer >= 1, got {value!r}")
        check(self.phase in PHASES, "phase", f"must be one of {', '.join(PHASES)}, got "
              f"{self.phase!r}")  # fmt: skip


def costed_step(phase: str | None, batch: int, tokens: int | None = None, context=None) -> str:
    """What one cost is for, in the words every command prints: a batch of samples, or a causal
    LM's prefill (``tokens`` per sequence) or decode step (``context`` cached)."""
    if phase == "decode":
        return f"per decode step (1 token x {batch} sequence(s), {context} cached)"
    if phase == "prefill":
        return f"per prefill ({batch} sequence(s) x {tokens} tokens)"
    return f"per batch of {batch} sample{'s' if batch != 1 else ''}"
