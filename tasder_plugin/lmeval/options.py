"""``LMEvalOptions``: the ``--model_args`` the ``tasder`` model type adds to lm-eval's ``hf``
ones (which plan, which hardware, which LM phase to cost); the rest go to lm-eval's HFLM."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..config import check, from_plain
from ..config.coerce import FieldError
from ..profile.settings import CostSettings
from ..tasd import TASDSeries

__all__ = ["LMEvalOptions", "split_model_args"]


@dataclass(frozen=True)
class LMEvalOptions:
    """``plan``: a saved :class:`~tasder_plugin.ModelPlan` (YAML/JSON) applied as written, or
    ``weights`` / ``activations``: one series on every GEMM layer (the output embedding dense
    while ``dense_lm_head``); none of them: the dense model, costed. ``hw``: a preset or YAML.
    The cost is for ``cost_batch`` sequences of the ``phase``: ``prefill`` of ``seq_len``
    tokens, or ``decode`` of one token at ``context`` cached, on Python's own documentation
    text (``data=pydocs``), its statistics from ``stats_windows`` windows. ``tasder_model``: a
    TASDER model config (``conf/model/<name>.yaml``, e.g. ``smollm2``) instead of
    ``pretrained``."""

    plan: str | None = None
    weights: TASDSeries | None = None
    activations: TASDSeries | None = None
    hw: str = "2of4"
    phase: str = "prefill"
    seq_len: int = 512
    context: int = 512
    cost_batch: int = 1
    stats_windows: int = 8
    dense_lm_head: bool = True
    tasder_model: str | None = None

    def __post_init__(self) -> None:
        uniform = self.weights is not None or self.activations is not None
        check(not (self.plan and uniform), "plan", "and weights/activations exclude each other: "
              "a plan file already says what each layer runs")  # fmt: skip
        check(self.plan is None or Path(self.plan).expanduser().is_file(), "plan",
              f"names no file: {self.plan} (a plan saved by ModelPlan.save or a search's "
              "plan.yaml)")  # fmt: skip
        for name in ("seq_len", "stats_windows"):
            value = getattr(self, name)
            check(value >= 1, name, f"must be an integer >= 1, got {value!r}")
        try:  # phase, context and the batch checked where the harness checks them
            self.cost_settings()
        except FieldError as err:
            raise FieldError(_COST_NAMES.get(err.field, err.field), err.message) from None

    def cost_settings(self) -> CostSettings:
        return CostSettings(batch_size=self.cost_batch, stats_samples=self.stats_windows,
                            phase=self.phase, context=self.context)  # fmt: skip


_COST_NAMES = {"batch_size": "cost_batch", "stats_samples": "stats_windows"}
_OURS = {f.name for f in dataclasses.fields(LMEvalOptions)}


def split_model_args(kwargs: dict) -> tuple[LMEvalOptions, dict]:
    """lm-eval's keyword arguments -> (ours, checked; the rest, for HFLM)."""
    ours = {key: value for key, value in kwargs.items() if key in _OURS}
    rest = {key: value for key, value in kwargs.items() if key not in _OURS}
    return from_plain(LMEvalOptions, ours, "model_args "), rest
