"""``LayerShape``: the GEMM view of a layer plus the real tensors it moves.

The array sees a conv as a GEMM (M output pixels x K = channels x taps x N output channels), but
DRAM sees the input tensor, read about once: every im2col window is formed on chip from the
same pixels. So a shape carries both: ``M, N, K`` for compute and buffer reads, and the input
as ``images`` x rows x (columns x channels) with the window along rows (``rows_axis``) for the
DRAM tiling, where a tile of output rows re-reads the input rows its windows overlap (its halo).
A GEMM (linear layer, matmul) is one image of M rows of K values with a 1-row window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Axis", "LayerShape"]


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a conv: ``size_in`` input positions, ``size_out`` outputs."""

    size_in: int
    size_out: int
    kernel: int = 1
    stride: int = 1
    padding: int = 0  # before the first input position (the zero halo is not read)
    dilation: int = 1

    @property
    def extent(self) -> int:
        return self.dilation * (self.kernel - 1) + 1

    @property
    def overlapping(self) -> bool:
        """Whether neighbouring windows share input positions (not a strided 1x1 conv)."""
        return self.extent >= self.stride

    def span(self, outputs):
        """Input positions a tile of ``outputs`` consecutive outputs reads, at most the whole
        axis (an array works): (outputs - 1) stride + extent, or outputs . kernel taps when
        the windows do not overlap."""
        if not self.overlapping:
            return np.minimum(outputs * self.kernel, self.size_in)
        return np.minimum((outputs - 1) * self.stride + self.extent, self.size_in)

    def touched(self, tiles):
        """Input positions read by ``tiles`` consecutive tiles covering all outputs (an array
        works): each tile reads its windows' span, so neighbouring tiles re-read the overlap;
        zero padding is generated on chip; windows that do not overlap (stride > extent, e.g.
        a strided 1x1 conv) read only their own taps."""
        if not self.overlapping:
            return np.minimum(self.size_out * self.kernel, self.size_in) + 0 * tiles
        span = (self.size_out - tiles) * self.stride + tiles * self.extent
        return span - np.minimum(self.padding, span) - self.overhang

    @property
    def overhang(self) -> int:
        """Zero positions the last window reaches past the input (the halo's far side; none
        for many stride-2 convs, whose windows stop before the padding)."""
        return max(0, (self.size_out - 1) * self.stride - self.padding + self.extent - self.size_in)


@dataclass(frozen=True)
class LayerShape:
    """``groups`` GEMMs of (M, N/groups, K) and the tensors behind them.

    ``row``: channels per group along K (N:M blocks never cross it; ``None``: all of K is one
    row). ``input_elems``/``output_elems``: elements of the real input and output tensors (all
    groups; default M x K x groups, a GEMM's row operand, and M x N; a transposed conv's output
    is not its GEMM's). ``images``, ``rows`` and ``cols``: a conv's batch and spatial
    axes (``None``: a GEMM, one image of M rows).
    """

    M: int
    N: int
    K: int
    groups: int = 1
    row: int | None = None
    input_density: float = 1.0
    input_elems: int | None = None
    output_elems: int | None = None
    images: int = 1
    rows: Axis | None = None
    cols: Axis | None = None

    @classmethod
    def of(cls, record) -> LayerShape:
        """From a profile record (:class:`~tasder_plugin.profile.GemmRecord` or alike: read by
        attribute; records without real operands fall back to the GEMM view)."""
        row = getattr(record, "channels_per_group", None) or None  # 0/None: K is one row
        shape = getattr(record, "input_shape", ())
        out = getattr(record, "output_shape", ())
        conv = getattr(record, "conv", None)
        axes = {}
        if conv is not None:
            axes = {
                name: Axis(conv.in_hw[i], conv.out_hw[i], conv.kernel[i], conv.stride[i],
                           conv.padding[i], conv.dilation[i])
                for i, name in enumerate(("rows", "cols"))
            }  # fmt: skip
            axes["images"] = conv.batch
        return cls(
            record.M, record.N, record.K, record.groups, row, record.input_density,
            input_elems=getattr(record, "input_numel", None) if shape else None,
            output_elems=int(np.prod(out)) if out else None, **axes,
        )  # fmt: skip

    @property
    def rows_axis(self) -> Axis:
        """The axis output tiles run along: a conv's rows; a GEMM's M rows (no window)."""
        if self.rows is not None:
            return self.rows
        return Axis(self.M // self.images, self.M // self.images)

    @property
    def cols_axis(self) -> Axis:
        """A conv's columns; a GEMM row is one position (its K values are its channels)."""
        return self.cols if self.cols is not None else Axis(1, 1)

    @property
    def input_elems_per_group(self) -> float:
        total = self.M * self.K * self.groups if self.input_elems is None else self.input_elems
        return total / self.groups

    @property
    def pixel_elems(self) -> float:
        """Input elements at one input position, per group: a conv's channels per group, a
        GEMM row's K values."""
        positions = self.images * self.rows_axis.size_in * self.cols_axis.size_in
        return self.input_elems_per_group / positions

    @property
    def output_elems_per_group(self) -> float:
        return (self.M * self.N if self.output_elems is None else self.output_elems) / self.groups

    def accumulator_bytes(self, bits: int) -> float:
        """One group's M x N/groups outputs at ``bits`` each."""
        return self.M * (self.N // self.groups) * bits / 8
