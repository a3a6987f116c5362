"""Array dataflows: the cycles of one GEMM pass and how often the array reads each operand.

One object per dataflow, registered by name (``array.dataflow`` in a spec). A pass multiplies a
row operand (``mx`` x ``kc``, streamed along the array's rows) by a column operand (``kc`` x
``nx``); ``kc`` counts the reduction slots the pass executes (K_eff of its compressed operand).
Each dataflow knows:

- ``cycles``: the closed form SCALE-Sim 3.0 reproduces (plus its documented minus one);
- ``reads``: how many times the array reads each operand from its buffer (the im2col view: a
  conv's row operand is read as M x K_eff values; these reads are real, DRAM is not);
- ``drains``: how many times the pass writes its accumulators to the output buffer (ws/is:
  once per K fold, read back between folds; os/tile: once, the sums stay in the array);
- ``keeps_accumulators``: whether consecutive passes into the same outputs can continue in the
  array's own accumulators (an interleaved series then drains once for all its terms).

Adding a dataflow is a new class here with ``@register_dataflow``; nothing else changes.
"""

from __future__ import annotations

import numpy as np

from ..registry import Registry

__all__ = ["Dataflow", "DATAFLOWS", "register_dataflow", "get_dataflow", "ceil_div"]


def ceil_div(a, b):
    """Ceiling division for ints and integer arrays."""
    return -(-a // b)


DATAFLOWS: Registry[Dataflow] = Registry("dataflow")
register_dataflow = DATAFLOWS.register
get_dataflow = DATAFLOWS.get


class Dataflow:
    """Base: ``array`` is an :class:`~.spec.ArraySpec`; all arguments may be numpy arrays."""

    name = ""
    keeps_accumulators = False

    def cycles(self, array, mx, nx, kc):
        raise NotImplementedError

    def reads(self, array, mx, nx, kc):
        """(reads of the row operand, reads of the column operand) per pass."""
        raise NotImplementedError

    def drains(self, array, kc):
        """Accumulator writes to the output buffer per pass."""
        return np.ones_like(kc)


@register_dataflow
class WeightStationary(Dataflow):
    """Column operand pinned in the PEs, one K fold of R rows at a time; rows stream past it."""

    name = "ws"

    def cycles(self, array, mx, nx, kc):
        r, c = array.rows, array.cols
        return ceil_div(kc, r) * ceil_div(nx, c) * (2 * r + c + mx - 2)

    def reads(self, array, mx, nx, kc):
        return ceil_div(nx, array.cols), np.ones_like(kc)

    def drains(self, array, kc):
        return ceil_div(kc, array.rows)


@register_dataflow
class InputStationary(WeightStationary):
    """Row operand pinned in the PEs (C of its rows per fold); the column operand streams:
    weight-stationary with the two operands' roles exchanged."""

    name = "is"

    def cycles(self, array, mx, nx, kc):
        return super().cycles(array, nx, mx, kc)

    def reads(self, array, mx, nx, kc):
        row, col = super().reads(array, nx, mx, kc)
        return col, row


@register_dataflow
class OutputStationary(Dataflow):
    """An R x C block of outputs accumulates in the PEs over all of K; both operands stream."""

    name = "os"
    keeps_accumulators = True

    def cycles(self, array, mx, nx, kc):
        r, c = array.rows, array.cols
        return ceil_div(mx, r) * ceil_div(nx, c) * (kc + r + c - 2)

    def reads(self, array, mx, nx, kc):
        return ceil_div(nx, array.cols), ceil_div(mx, array.rows)


@register_dataflow
class Tile(Dataflow):
    """A tensor-core-like engine: one Tm x Tn x Tk tile per ``cycles_per_tile``, plus fill.

    Register reuse: an output block of rows x cols accumulators stays in registers over all of
    K (the array's rows x cols name that block), so each fragment read from a buffer serves
    every tile of the block that uses it: the row operand is read once per block column
    (ceil(nx / cols)), the column operand once per block row (ceil(mx / rows)).
    """

    name = "tile"
    keeps_accumulators = True

    def cycles(self, array, mx, nx, kc):
        t = array.tile
        tiles = ceil_div(mx, t.m) * ceil_div(nx, t.n) * ceil_div(kc, t.k)
        return tiles * t.cycles_per_tile + t.fill_cycles

    def reads(self, array, mx, nx, kc):
        return ceil_div(nx, array.cols), ceil_div(mx, array.rows)
