"""Sparsity engines: what one pass executes (its work) and how long one GEMM of that work takes.

One object per ``sparsity.engine``, registered by name:

- ``nm``: N:M on a compressed port. The pass runs the kept reduction slots of its compressed
  operand (K_eff), or all of K when both sides are dense; a one-sided unit given both sides
  keeps one (the mapping decides which). Cycles: the dataflow's closed form.
- ``block_dual`` (S2TA-like): weights bounded by one ``n:B`` pattern in space, activations
  time-unrolled per block: the pass takes K_eff of its activation term in time and executes
  only the weight term's share of those slots. Cycles: the dataflow's closed form.
- ``unstructured`` (DSTC-like): work scales with both densities and zeros are never issued.
  Cycles: work / (R . C . utilisation) + fill.

Per-pass arrays (one entry per pass of a :class:`~.table.CandidateTable`): ``kc`` reduction
slots in time, ``kw``/``ka`` the slots each operand keeps, ``slots`` MAC slots issued, ``useful``
the fraction of them with non-zero operands (the rest are gated, energy only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..registry import Registry
from .cover import k_eff
from .dataflows import get_dataflow

__all__ = ["PassWork", "ENGINES", "get_engine", "register_engine"]


@dataclass(frozen=True)
class PassWork:
    kc: np.ndarray
    kw: np.ndarray
    ka: np.ndarray
    slots: np.ndarray
    useful: np.ndarray


ENGINES: Registry[Engine] = Registry("engine")
register_engine = ENGINES.register
get_engine = ENGINES.get


def _kept(shape, t):
    """K_eff of each pass's weight and activation term (K where that side is dense)."""
    row = shape.K if shape.row is None else shape.row
    kw = np.where(
        t.w_comp, k_eff(shape.K, t.w_n.astype(np.int64), t.w_m.astype(np.int64), row), shape.K
    )
    ka = np.where(
        t.a_comp, k_eff(shape.K, t.a_n.astype(np.int64), t.a_m.astype(np.int64), row), shape.K
    )
    return kw, ka


def _useful(hw, t, density: float) -> np.ndarray:
    """Fraction of issued slots whose activation is non-zero (an N:M term raises the density of
    what it keeps: at most all of it); 1 when the engine does not gate zeros."""
    if not hw.sparsity.gate_zeros:
        return np.ones(len(t.cand))
    return np.where(t.a_comp, np.minimum(1.0, density * t.a_m / t.a_n), density)


class Engine:
    """What one sparsity engine executes; the mapping asks it three questions too."""

    name = ""
    runs_any_pattern = False  # True: terms run as planned (no cover rule)
    one_port = False  # one-sided: the compressed side goes to sparsity.compressed_port

    def check(self, sparsity) -> None:
        """Raise ValueError where ``sparsity`` (a SparsitySpec) does not suit this engine."""

    def weight_terms(self, sparsity, terms: list, reasons: list, row: int | None) -> list:
        """The weight terms the passes run (``[None]``: dense), given the covered ones and
        the length of a blocked row of K (``None``: all of K)."""
        return terms

    def work(self, hw, t, shape, ng: int) -> PassWork:
        raise NotImplementedError

    def cycles(self, hw, mx, nx, kc, slots):
        """Compute cycles of one GEMM of ``slots`` MAC slots (``kc`` reduction slots in time)."""
        return get_dataflow(hw.array.dataflow).cycles(hw.array, mx, nx, kc)


@register_engine
class NMEngine(Engine):
    name = "nm"
    one_port = True

    def work(self, hw, t, shape, ng):
        kw, ka = _kept(shape, t)
        kc = np.where(t.w_comp, kw, np.where(t.a_comp, ka, shape.K))
        slots = shape.M * ng * kc.astype(np.float64)
        return PassWork(kc, kw, ka, slots, _useful(hw, t, shape.input_density))


@register_engine
class BlockDualEngine(Engine):
    name = "block_dual"

    def check(self, sparsity) -> None:
        if len(sparsity.weights) != 1:
            raise ConfigError("sparsity.weights: block_dual needs one bound pattern")
        if sparsity.weights[0].m != sparsity.block:
            raise ConfigError("sparsity.weights: bound must use m = block")

    def weight_terms(self, sparsity, terms, reasons, row):
        """Weights are bounded at n:B: a dense weight side runs as ceil(B/n) exact passes, or
        ceil(row/n) when a row of K is shorter than a block (one pass keeps a row of <= n)."""
        bound = sparsity.weights[0]
        if terms != [None] or bound.is_dense:
            return terms
        count = -(-min(bound.m, bound.m if row is None else row) // bound.n)
        if count == 1:
            return terms
        reasons.append(f"W: dense weights run as {count} passes of {bound} (weight bound)")
        return [bound] * count

    def work(self, hw, t, shape, ng):
        kw, ka = _kept(shape, t)
        slots = shape.M * ng * ka * (t.w_n / t.w_m)
        return PassWork(ka, kw, ka, slots, _useful(hw, t, shape.input_density))


@register_engine
class UnstructuredEngine(Engine):
    name = "unstructured"
    runs_any_pattern = True

    def work(self, hw, t, shape, ng):
        kw, ka = _kept(shape, t)
        d_w = np.where(t.w_comp, t.w_n / t.w_m, 1.0)
        d_a = np.where(
            t.a_comp, np.minimum(t.a_n / t.a_m, shape.input_density), shape.input_density
        )
        slots = shape.M * ng * shape.K * d_w * d_a
        return PassWork(kw, kw, ka, slots, np.ones_like(slots))

    def cycles(self, hw, mx, nx, kc, slots):
        a = hw.array
        return np.ceil(slots / (a.rows * a.cols * a.utilization)) + a.rows + a.cols - 2
