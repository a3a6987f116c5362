"""``SearchOptions``: every option of a TASDER search, its default and its valid range, once.

``run_search(**options)``, ``search_plan`` and the harness's ``tasd=tasder`` config all take
these fields; the Hydra schema of ``conf/tasd/tasder.yaml`` is derived from this class.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import check

__all__ = ["SearchOptions"]


@dataclass(frozen=True)
class SearchOptions:
    """``max_drop``: the allowed drop of the calibration metric from dense (a fraction: 0.01 is
    one top-1 point); ``confidence``: the budget holds for the mean drop plus this many standard
    errors on the search part (on the holdout, the same margin in points); ``max_increase``: a
    causal LM's budget as the relative perplexity increase (0.05: 5%; instead of ``max_drop``,
    which for an LM is in nats of mean NLL); ``sensitivity``: how single-layer sensitivities are
    measured (``forward``, ``fisher``, or ``auto``: fisher for causal LMs, forward otherwise);
    ``holdout``: the share of the calibration data kept aside to verify the final plan;
    ``refine_trials``: tasder's single-layer refinement moves from each start (None: twice the
    layers);
    ``targets`` / ``ignore``: layer names or ``re:`` regexes. (Which batch the cost is for is
    ``run_search(cost=...)``: a harness run costs its own profile.)"""

    strategy: str = "tasder"
    max_drop: float = 0.01
    max_increase: float | None = None
    objective: str = "edp"
    max_terms: int = 2
    max_candidates: int = 4
    holdout: float = 0.3
    sensitivity_samples: int = 128
    sensitivity: str = "auto"
    confidence: float = 1.0
    refine_trials: int | None = None
    targets: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from ..nn.plan import check_targets
        from .objective import OBJECTIVES
        from .sensitivity import SENSITIVITIES
        from .strategies import STRATEGIES

        STRATEGIES.get(self.strategy)
        OBJECTIVES.get(self.objective)
        check(0.0 <= self.max_drop < 1.0, "max_drop",
              f"must be a fraction in [0, 1) (0.01 = 1 point), got {self.max_drop}")  # fmt: skip
        increase = self.max_increase
        check(increase is None or increase > 0.0, "max_increase",
              f"must be > 0 (0.05: perplexity at most 5% above dense) or null, got "
              f"{increase}")  # fmt: skip
        methods = ("auto", *SENSITIVITIES.names())
        check(self.sensitivity in methods, "sensitivity",
              f"must be one of {', '.join(methods)}, got {self.sensitivity!r}")  # fmt: skip
        check(0.0 <= self.holdout < 1.0, "holdout", f"must be in [0, 1), got {self.holdout}")
        check(self.confidence >= 0.0, "confidence", f"must be >= 0, got {self.confidence}")
        for name in ("max_terms", "max_candidates", "sensitivity_samples"):
            value = getattr(self, name)
            check(value >= 1, name, f"must be an integer >= 1, got {value}")
        trials = self.refine_trials
        check(trials is None or trials >= 0, "refine_trials", f"must be >= 0, got {trials}")
        check_targets(self.targets, self.ignore)
