"""``LayerPlan``: what one GEMM layer runs, a weight series and/or an input series.

The one representation of a layer's choice everywhere: a saved ``ModelPlan``, surgery, a search
candidate and a row of the hardware cost table. It lives with the series it holds (the math
layer), so the cost model and the search use it without depending on module surgery.
"""

from __future__ import annotations

from dataclasses import dataclass

from .patterns import TASDSeries

__all__ = ["LayerPlan"]


def _series_or_none(value: TASDSeries | str | None) -> TASDSeries | None:
    """``None``/``"dense"`` mean no decomposition; strings are parsed here, once."""
    if value is None:
        return None
    series = value if isinstance(value, TASDSeries) else TASDSeries.parse(value)
    return None if series.is_dense else series


@dataclass(frozen=True)
class LayerPlan:
    """TASD for one layer: a weight series (TASD-W) and/or an input series (TASD-A)."""

    weights: TASDSeries | None = None
    activations: TASDSeries | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _series_or_none(self.weights))
        object.__setattr__(self, "activations", _series_or_none(self.activations))

    @property
    def is_dense(self) -> bool:
        return self.weights is None and self.activations is None

    def label(self) -> str:
        """``W=<series> A=<series>`` (``dense`` for an undecomposed side), as logs show it."""
        w = "dense" if self.weights is None else str(self.weights)
        a = "dense" if self.activations is None else str(self.activations)
        return f"W={w} A={a}"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "weights": None if self.weights is None else str(self.weights),
            "activations": None if self.activations is None else str(self.activations),
        }
