"""Buffer-level tiling: the DRAM traffic of one GEMM job (one kernel over one group of a layer).

A job multiplies the layer's input by a set of weight terms held on chip together (all terms
of a fused or interleaved series; one term of a sequential one). The outputs are tiled into
``tiles_m`` tiles of output rows (a conv's rows, with the input rows their windows need: the
halo) and the weights into ``tiles_n`` chunks of output columns; K is kept whole, so each output
tile's accumulators stay on chip until its outputs are final and are written once.

Tile sizes: an input tile must fit the usable (half, if double-buffered) bytes of its buffer
beside the accumulators in flight (one output row for one array column fold, min(N, cols)
channels, when one buffer holds both): its output rows are computed one after another, each over
all of K, the weights re-pinned from the weight buffer. The largest such tile is taken (whole
images at once when they fit). When even one output row's input does not fit, the rows are cut
into column tiles first (each re-reads its column halo), as wide feature maps need. A weight
chunk must fit the weight buffer (its metadata the
metadata buffer, or the weight buffer when there is none). Then two loop orders, the cheaper
per candidate (as Timeloop's and ZigZag's mappers choose among orders by traffic):

- rows outer: every input tile read once; the weights re-read per row tile unless they fit;
- columns outer: every weight chunk read once; the input re-read per chunk unless it fits.

Only when the input of a single output position (or one weight column) cannot fit with its
whole K does the job split K into ``k_split`` chunks; partial sums then spill to DRAM at
accumulator width (written and read back once per extra chunk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .dataflows import ceil_div
from .shapes import LayerShape

if TYPE_CHECKING:  # annotations only: spec validates names against the modules importing it
    from .spec import HardwareSpec

__all__ = ["JobTraffic", "InputTiling", "input_tiling", "job_traffic"]


@dataclass(frozen=True)
class InputTiling:
    """How one job's input streams through the activation buffer (independent of weights)."""

    tiles_m: int  # input tiles over all images (row tiles x column tiles)
    input_bytes: float  # input DRAM bytes of one full sweep over those tiles (halos included)
    tile_bytes: float  # the largest input tile held on chip
    k_split: int  # > 1: one output position does not fit with its whole K


@dataclass(frozen=True)
class JobTraffic:
    """Per-candidate DRAM bytes of one job (arrays), and what stays on chip."""

    inputs: np.ndarray
    weights: np.ndarray
    metadata: np.ndarray
    partial_sums: np.ndarray
    input_resident: bool
    weights_resident: np.ndarray
    tiling: InputTiling


def _input_room(hw: HardwareSpec) -> tuple[float, bool]:
    """Usable bytes for input tiles, and whether the output accumulators share them."""
    act, out, w = (hw.buffer_for(o) for o in ("activations", "outputs", "weights"))
    cap = act.usable_bytes / 2 if w is act else act.usable_bytes  # one buffer: half for weights
    return cap, act is out


def _weight_room(hw: HardwareSpec) -> tuple[float, float | None]:
    """Usable bytes for weight values (with metadata, when it has no buffer of its own), and
    for metadata in its own buffer (``None``: none)."""
    act, w, meta = (hw.buffer_for(o) for o in ("activations", "weights", "metadata"))
    cap = w.usable_bytes / 2 if w is act else w.usable_bytes
    return cap, None if meta is None or meta is w else meta.usable_bytes


def _tiling(shape: LayerShape, cap: float, shared: bool, pixel, acc_pixel, tiles_c: int):
    """The input tiling with ``tiles_c`` column tiles: row tiles as tall as fit."""
    rows, cols = shape.rows_axis, shape.cols_axis
    width = ceil_div(cols.size_out, tiles_c)
    free = cap - width * acc_pixel if shared else cap  # beside one output row's accumulators
    row_tile = float(rows.span(1) * cols.span(width)) * pixel  # one output row's input
    k_split = max(1, ceil_div(int(np.ceil(row_tile)), max(1, int(free))))
    strip = float(cols.span(width)) * pixel / k_split  # one input row of a column tile
    if rows.overlapping:  # h output rows read (h - 1) stride + extent input rows
        h = int((free / strip - rows.extent) / rows.stride) + 1
    else:
        h = int(free / strip) // rows.kernel
    h = min(max(1, h), rows.size_out)
    image = float(rows.touched(1) * cols.touched(1)) * pixel / k_split
    if h == rows.size_out and tiles_c == 1:  # whole images per tile
        per_tile = max(1, int(free / image))
        tiles_m, tiles_r, tile = ceil_div(shape.images, per_tile), 1, image * per_tile
    else:
        tiles_r = ceil_div(rows.size_out, h)
        tiles_m = shape.images * tiles_r * tiles_c
        tile = float(rows.span(h)) * strip
    read = shape.images * float(rows.touched(tiles_r) * cols.touched(tiles_c)) * pixel
    return InputTiling(tiles_m, read, min(tile, read), k_split)


def input_tiling(hw: HardwareSpec, shape: LayerShape) -> InputTiling:
    """The tiling of ``shape``'s input on ``hw`` (per group): row tiles as tall as fit beside
    the accumulators in flight; where those re-read more than 5% of the input (or one output
    row does not fit), also the number of column tiles (from the fewest with which one output
    row fits, up to 8 times more) that reads the least, since narrower tiles leave room for
    taller ones at the cost of column halos."""
    cap, shared = _input_room(hw)
    pixel = shape.pixel_elems * hw.bits.activation / 8  # one input position's bytes
    acc_pixel = min(shape.N // shape.groups, hw.array.cols) * hw.bits.accumulator / 8
    best = _tiling(shape, cap, shared, pixel, acc_pixel, 1)
    whole = float(shape.rows_axis.touched(1) * shape.cols_axis.touched(1)) * pixel
    if best.k_split == 1 and best.input_bytes <= 1.05 * shape.images * whole:
        return best  # whole images fit, or row tiles re-read under 5%: nothing to gain
    size = shape.cols_axis.size_out
    first = 1
    while first < size and _tiling(shape, cap, shared, pixel, acc_pixel, first).k_split > 1:
        first *= 2
    for tiles_c in range(max(1, first // 2), min(8 * first, size) + 1):
        option = _tiling(shape, cap, shared, pixel, acc_pixel, tiles_c)
        if (option.k_split, option.input_bytes) < (best.k_split, best.input_bytes):
            best = option
    return best


def job_traffic(
    hw: HardwareSpec, shape: LayerShape, weight_bytes: np.ndarray, meta_bytes: np.ndarray
) -> JobTraffic:
    """DRAM bytes of one job per candidate, given its on-chip weight (and metadata) bytes."""
    tiling = input_tiling(hw, shape)
    cap_w, cap_meta = _weight_room(hw)
    if cap_meta is None:
        chunks = np.ceil((weight_bytes + meta_bytes) / cap_w)
    else:
        chunks = np.maximum(np.ceil(weight_bytes / cap_w), np.ceil(meta_bytes / cap_meta))
    k_split = np.maximum(tiling.k_split, np.ceil(chunks / (shape.N // shape.groups)))
    tiles_n = np.maximum(1.0, np.ceil(chunks / k_split))  # one column must fit: else split K
    tiles_m = tiling.tiles_m
    w_resident = tiles_n == 1
    in_resident = tiles_m == 1
    fetch = weight_bytes + meta_bytes
    # rows outer: input once, weights per row tile; columns outer: weights once, input per chunk
    rows_outer = tiling.input_bytes + np.where(w_resident, 1.0, tiles_m) * fetch
    cols_outer = tiling.input_bytes * (1.0 if in_resident else tiles_n) + fetch
    pick_rows = rows_outer <= cols_outer
    w_times = np.where(pick_rows & ~w_resident, float(tiles_m), 1.0)
    in_times = np.where(pick_rows | in_resident, 1.0, tiles_n)
    acc = shape.accumulator_bytes(hw.bits.accumulator)
    return JobTraffic(
        inputs=tiling.input_bytes * in_times,
        weights=weight_bytes * w_times,
        metadata=meta_bytes * w_times,
        partial_sums=2 * acc * (k_split - 1),
        input_resident=bool(in_resident),
        weights_resident=w_resident,
        tiling=tiling,
    )
