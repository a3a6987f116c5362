"""What a search minimises: network energy, latency, or their product (EDP).

Network totals are sums over GEMMs, so a per-layer choice changes the totals additively; EDP is
not additive, so strategies rank per-layer changes by its first-order change,
d log EDP = dE / E + dD / D, around the current totals (and re-linearise as they move).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..registry import Registry

__all__ = ["OBJECTIVES", "Objective", "get_objective"]


@dataclass(frozen=True)
class Objective:
    name: str
    value: Callable[[float, float], float]  # (energy_j, latency_s) -> value to minimise
    uses_energy: bool
    uses_latency: bool

    def weights(self, energy_j: float, latency_s: float) -> tuple[float, float]:
        """Per-joule and per-second weights of the linearised log-objective at these totals."""
        return (
            1.0 / energy_j if self.uses_energy else 0.0,
            1.0 / latency_s if self.uses_latency else 0.0,
        )


OBJECTIVES: Registry[Objective] = Registry("objective")
for _goal in (
    Objective("edp", lambda e, d: e * d, True, True),
    Objective("energy", lambda e, d: e, True, False),
    Objective("latency", lambda e, d: d, False, True),
):
    OBJECTIVES.add(_goal.name, _goal)


def get_objective(name: str) -> Objective:
    return OBJECTIVES.get(name)
