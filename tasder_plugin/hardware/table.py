"""Candidate tables: many mapped layer plans (weight series, input series) as flat numpy arrays.

A table is independent of the layer's shape (it depends on the hardware and on how many
channels one blocked row has), so the search builds it once and costs every layer against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..tasd.layer_plan import LayerPlan
from .cover import metadata_bits
from .mapping import LayerMapping, map_layer

if TYPE_CHECKING:  # annotations only: spec validates names against the modules importing it
    from .spec import HardwareSpec

__all__ = ["CandidateTable", "build_table"]


@dataclass(frozen=True, eq=False)
class CandidateTable:
    """Per-pass arrays (``w_n``, ``w_m`` ... one entry per pass) and per-candidate ``starts``."""

    mappings: tuple[LayerMapping, ...]
    starts: np.ndarray  # index of each candidate's first pass
    cand: np.ndarray  # candidate index of each pass
    w_n: np.ndarray  # hardware pattern of the weight term (n = m = 1: dense)
    w_m: np.ndarray
    a_n: np.ndarray
    a_m: np.ndarray
    w_comp: np.ndarray  # bool: the weight term is compressed
    a_comp: np.ndarray
    sel_cmp: np.ndarray  # planned activation term: comparisons per element, n(m-1)/m
    sel_first: np.ndarray  # bool: first pass using this activation term
    w_first: np.ndarray  # bool: first pass using this weight term
    w_meta_bits: np.ndarray  # metadata bits per kept weight value
    a_meta_bits: np.ndarray
    cand_first: np.ndarray  # bool per pass: the candidate's first pass
    transposed: np.ndarray  # per candidate: the compressed side needs O^T = W^T A^T
    pass_counts: np.ndarray  # per candidate

    @property
    def candidates(self) -> int:
        return len(self.starts)

    def per_candidate(self, values) -> np.ndarray:
        """Sum per-pass ``values`` (or a scalar) over each candidate's passes."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != self.cand.shape:
            values = np.broadcast_to(values, self.cand.shape)
        return np.add.reduceat(values, self.starts)

    def per_pass(self, values) -> np.ndarray:
        """Per-candidate ``values`` repeated for each of the candidate's passes."""
        return np.asarray(values)[self.cand]


def _pattern_arrays(patterns) -> tuple[list[int], list[int], list[bool]]:
    n = [1 if p is None else p.n for p in patterns]
    m = [1 if p is None else p.m for p in patterns]
    return n, m, [p is not None and not p.is_dense for p in patterns]


def _pass_order_arrays(mappings) -> tuple[list[float], list[bool], list[bool]]:
    """Per pass: the selector's comparisons per element, whether it is the first pass of its
    activation term (the selector runs once per term) and of its weight term."""
    sel_cmp, sel_first, w_first = [], [], []
    for mp in mappings:
        n_act = len(mp.passes) // mp.weight_terms  # passes are weight-term-major: (i, j) is
        for i, p in enumerate(mp.passes):  # pass i * n_act + j
            ap = p.a_plan if p.a is not None else None
            sel_cmp.append(0.0 if ap is None else ap.n * (ap.m - 1) / ap.m)
            sel_first.append(ap is not None and i < n_act)
            w_first.append(i % n_act == 0)
    return sel_cmp, sel_first, w_first


def build_table(
    plans: Sequence[LayerPlan],
    hw: HardwareSpec,
    *,
    row: int | None = None,
    is_weight_gemm: bool = True,
    strict: bool = False,
    fqn: str = "",
) -> CandidateTable:
    """Map every candidate :class:`LayerPlan` of one layer (a ``None`` side is dense)."""
    fmt, block = hw.metadata_format, hw.sparsity.block
    mappings = tuple(
        map_layer(
            plan.weights,
            plan.activations,
            hw,
            row=row,
            is_weight_gemm=is_weight_gemm,
            strict=strict,
            fqn=fqn,
        )
        for plan in plans
    )
    passes = [p for mp in mappings for p in mp.passes]
    counts = np.array([len(mp.passes) for mp in mappings], dtype=np.int64)
    w_n, w_m, w_comp = _pattern_arrays([p.w for p in passes])
    a_n, a_m, a_comp = _pattern_arrays([p.a for p in passes])
    sel_cmp, sel_first, w_first = _pass_order_arrays(mappings)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    cand_first = np.zeros(len(passes), dtype=bool)
    cand_first[starts] = True
    return CandidateTable(
        mappings=mappings,
        starts=starts,
        cand_first=cand_first,
        cand=np.repeat(np.arange(len(mappings)), counts),
        w_n=np.array(w_n, dtype=np.float64),
        w_m=np.array(w_m, dtype=np.float64),
        a_n=np.array(a_n, dtype=np.float64),
        a_m=np.array(a_m, dtype=np.float64),
        w_comp=np.array(w_comp, dtype=bool),
        a_comp=np.array(a_comp, dtype=bool),
        sel_cmp=np.array(sel_cmp, dtype=np.float64),
        sel_first=np.array(sel_first, dtype=bool),
        w_first=np.array(w_first, dtype=bool),
        w_meta_bits=np.array([metadata_bits(fmt, p.w, block) for p in passes]),
        a_meta_bits=np.array([metadata_bits(fmt, p.a, block) for p in passes]),
        transposed=np.array([mp.transposed for mp in mappings], dtype=bool),
        pass_counts=counts,
    )
