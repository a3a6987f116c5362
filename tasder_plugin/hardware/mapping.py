"""Mapping a layer plan onto hardware: which pattern each term runs as, and the passes.

A pass is one (weight term, activation term) product; ``None`` on a side means that side runs
dense in that pass. Terms that cannot run exactly are mapped by the cover rule and the reason
is recorded; with ``strict=True`` the same situations raise a one-line ValueError instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..tasd.patterns import NMPattern, Side, TASDSeries
from .cover import cover
from .engines import get_engine

if TYPE_CHECKING:  # annotations only: spec validates names against the modules importing it
    from .spec import HardwareSpec

__all__ = ["Pass", "LayerMapping", "map_layer"]


@dataclass(frozen=True)
class Pass:
    """One pass: the hardware patterns it runs (``None``: dense) and the planned ones."""

    w: NMPattern | None
    a: NMPattern | None
    w_plan: NMPattern | None
    a_plan: NMPattern | None


@dataclass(frozen=True)
class LayerMapping:
    passes: tuple[Pass, ...]  # weight-term-major: (weight term i, activation term j) is i*A + j
    weight_terms: int
    weights_ran_as: str  # e.g. "2:4+2:4" or "dense"
    activations_ran_as: str
    transposed: bool  # one-sided: the compressed side needs O^T = W^T A^T (M and N swap)
    reasons: tuple[str, ...]


def _join(terms) -> str:
    return "dense" if all(t is None for t in terms) else "+".join(str(t or "dense") for t in terms)


class _Mapper:
    def __init__(self, hw: HardwareSpec, strict: bool, fqn: str):
        self.hw, self.strict, self.fqn, self.reasons = hw, strict, fqn, []

    def note(self, message: str) -> None:
        if self.strict:
            raise ConfigError(
                f"layer {self.fqn!r} cannot run exactly on {self.hw.name!r}: {message}"
            )
        self.reasons.append(message)

    def side(self, side: Side, series: TASDSeries | None, row: int | None) -> list:
        """Hardware patterns for each term of one side; ``[None]`` when the side runs dense."""
        sp = self.hw.sparsity
        if series is None:
            return [None]
        if row is not None and (reason := series.narrow_row_reason(row, side)):
            self.note(reason)
            return [None]
        if get_engine(sp.engine).runs_any_pattern:
            return list(series.patterns)
        supported = sp.weights if side == Side.W else sp.activations
        mapped = [cover(p, supported) for p in series]
        if any(m is None for m in mapped):
            bad = next(p for p, m in zip(series, mapped, strict=True) if m is None)
            names = ", ".join(str(p) for p in supported) or "none"
            self.note(f"{side}: term {bad} has no cover among {{{names}}}; {side} ran dense")
            return [None]
        for planned, ran in zip(series, mapped, strict=True):
            if planned != ran:
                self.note(f"{side}: term {planned} ran as {ran} (cover rule)")
        return mapped


def _density(terms: list) -> float:
    return sum(1.0 if t is None else t.n / t.m for t in terms)


def map_layer(
    plan_w: TASDSeries | None,
    plan_a: TASDSeries | None,
    hw: HardwareSpec,
    *,
    row: int | None = None,
    is_weight_gemm: bool = True,
    strict: bool = False,
    fqn: str = "",
) -> LayerMapping:
    """Map one layer's planned series onto ``hw``; ``row`` = channels per group (None: all K)."""
    mapper = _Mapper(hw, strict, fqn)
    if not is_weight_gemm and (plan_w is not None or plan_a is not None):
        mapper.note("activation GEMM (no weight operand): runs dense")
        plan_w = plan_a = None
    w_terms = mapper.side(Side.W, plan_w, row)
    a_terms = mapper.side(Side.A, plan_a, row)
    sp = hw.sparsity
    engine = get_engine(sp.engine)
    w_terms = engine.weight_terms(sp, w_terms, mapper.reasons, row)
    if not sp.dual and w_terms != [None] and a_terms != [None]:
        keep_w = _density(w_terms) <= _density(a_terms)  # work of each option, in dense passes
        dropped = Side.A if keep_w else Side.W
        mapper.note(f"one compressed operand per layer: {dropped} ran dense")
        if keep_w:
            a_terms = [None]
        else:
            w_terms = [None]
    transposed = False
    if engine.one_port and not sp.dual:  # the compressed side on the compressed port
        side = Side.A if a_terms != [None] else Side.W if w_terms != [None] else None
        transposed = side == (Side.A if sp.compressed_port == "column" else Side.W)
    w_plan = list(plan_w.patterns) if plan_w is not None and w_terms != [None] else [None]
    a_plan = list(plan_a.patterns) if plan_a is not None and a_terms != [None] else [None]
    if len(w_plan) != len(w_terms):  # an engine ran dense weights as several passes
        w_plan = [None] * len(w_terms)
    passes = tuple(
        Pass(w, a, wp, ap)
        for w, wp in zip(w_terms, w_plan, strict=True)
        for a, ap in zip(a_terms, a_plan, strict=True)
    )
    return LayerMapping(
        passes, len(w_terms), _join(w_terms), _join(a_terms), transposed, tuple(mapper.reasons)
    )
