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
images at once when they fit). A weight chunk must fit the weight buffer (its metadata the
metadata buffer, or the weight buffer when there is none). Then two loop orders, the cheaper
per candidate (as Timeloop's and ZigZag's mappers choose among orders by traffic):

- rows outer: every input tile read once; the weights re-read per row tile unless they fit;
- columns outer: every weight chunk read once; the input re-read per chunk unless it fits.

Only when a single output row (or one weight column) cannot fit with its whole K does the job
split K into ``k_split`` chunks; partial sums then spill to DRAM at accumulator width (written
and read back once per extra chunk).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dataflows import ceil_div
from .shapes import LayerShape
from .spec import HardwareSpec

__all__ = ["JobTraffic", "InputTiling", "input_tiling", "job_traffic"]


@dataclass(frozen=True)
class InputTiling:
    """How one job's input streams through the activation buffer (independent of weights)."""

    tiles_m: int  # output-row tiles over all images
    input_bytes: float  # input DRAM bytes of one full sweep over those tiles (halo included)
    k_split: int  # > 1: one output row does not fit with its whole K
    capacity_w: float  # usable bytes for weights (values, plus metadata without a buffer)
    capacity_meta: float | None  # usable bytes of a separate metadata buffer


@dataclass(frozen=True)
class JobTraffic:
    """Per-candidate DRAM bytes of one job (arrays), and whether the input stays on chip."""

    inputs: np.ndarray
    weights: np.ndarray
    metadata: np.ndarray
    partial_sums: np.ndarray
    input_resident: bool
    weights_resident: np.ndarray


def _capacities(hw: HardwareSpec) -> tuple[float, bool, float, float | None]:
    """Usable bytes for (input tiles, shared with the outputs?, weights, metadata or None)."""
    act, out, w = (hw.buffer_for(o) for o in ("activations", "outputs", "weights"))
    meta = hw.buffer_for("metadata")
    cap_a, cap_w = act.usable_bytes, w.usable_bytes
    if w is act:  # one buffer for everything: half for weights, half for inputs and outputs
        cap_w = cap_a = act.usable_bytes / 2
    cap_m = None if meta is None or meta is w else meta.usable_bytes
    return cap_a, act is out, cap_w, cap_m


def input_tiling(hw: HardwareSpec, shape: LayerShape) -> InputTiling:
    """The output-row tiling of ``shape``'s input on ``hw`` (per group)."""
    b = hw.bits
    axis = shape.rows_axis
    ng = shape.N // shape.groups
    cap_a, shared, cap_w, cap_m = _capacities(hw)
    row_in = shape.row_elems * b.activation / 8  # bytes of one input row
    # the accumulators in flight: one output row for one array column fold (at most half the
    # buffer: wider rows are computed in narrower pieces)
    row_acc = shape.outputs_per_row * min(ng, hw.array.cols) * b.accumulator / 8
    room = cap_a - min(row_acc, cap_a / 2) if shared else cap_a
    # a tile of h output rows reads (h-1).stride + extent input rows (h.kernel if no overlap)
    slope, extra = (axis.stride, axis.extent - axis.stride)
    if axis.extent < axis.stride:
        slope, extra = axis.kernel, 0
    # K is split only when the input rows of one output row do not fit
    k_split = max(1, ceil_div(int(np.ceil((slope + extra) * row_in)), int(room)))
    row_in /= k_split
    h = max(1, int((room - extra * row_in) / (slope * row_in)))
    if h >= axis.size_out:  # whole images per tile
        per_tile = max(1, int(room / (float(axis.touched(1)) * row_in)))
        tiles_m, tiles_img = ceil_div(shape.images, per_tile), 1
    else:
        tiles_img = ceil_div(axis.size_out, h)
        tiles_m = shape.images * tiles_img
    input_bytes = shape.images * float(axis.touched(tiles_img)) * row_in * k_split
    return InputTiling(tiles_m, input_bytes, k_split, cap_w, cap_m)


def job_traffic(
    hw: HardwareSpec, shape: LayerShape, weight_bytes: np.ndarray, meta_bytes: np.ndarray
) -> JobTraffic:
    """DRAM bytes of one job per candidate, given its on-chip weight (and metadata) bytes."""
    tiling = input_tiling(hw, shape)
    ng = shape.N // shape.groups
    if tiling.capacity_meta is None:
        held = weight_bytes + meta_bytes
        chunks = np.ceil(held / tiling.capacity_w)
    else:
        chunks = np.maximum(
            np.ceil(weight_bytes / tiling.capacity_w), np.ceil(meta_bytes / tiling.capacity_meta)
        )
    k_split = np.maximum(tiling.k_split, np.ceil(chunks / ng))  # one column must fit
    tiles_n = np.maximum(1.0, np.ceil(chunks / k_split))
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
    acc = shape.M * ng * hw.bits.accumulator / 8
    return JobTraffic(
        inputs=tiling.input_bytes * in_times,
        weights=weight_bytes * w_times,
        metadata=meta_bytes * w_times,
        partial_sums=2 * acc * (k_split - 1),
        input_resident=bool(in_resident),
        weights_resident=w_resident,
    )
