"""The profile's data: one record per GEMM of a forward pass, with the real tensors it moves."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from math import prod

import torch

__all__ = ["ConvGeometry", "GemmRecord", "ModelProfile"]


@dataclass(frozen=True)
class ConvGeometry:
    """A 2-D convolution's input tensor and window: what DRAM sees beside the GEMM view.

    ``padding`` is the zero halo before the first row / column (``padding='same'`` resolved to
    numbers); pairs are (height, width).
    """

    batch: int
    in_channels: int
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int

    @classmethod
    def of(cls, x: torch.Tensor, out: torch.Tensor, weight_hw, stride, padding, dilation, groups):
        """From a conv's input ``(B, C, H, W)`` (or unbatched ``(C, H, W)``) and output."""
        if x.ndim == 3:
            x, out = x.unsqueeze(0), out.unsqueeze(0)
        in_hw, out_hw = tuple(x.shape[-2:]), tuple(out.shape[-2:])
        pairs = [tuple(v) if isinstance(v, (tuple, list)) else (v, v) for v in (stride, dilation)]
        (stride, dilation), kernel = pairs, tuple(weight_hw)
        if isinstance(padding, str):  # 'valid' or 'same': the halo the output size implies
            padding = tuple(
                max(0, ((o - 1) * s + d * (k - 1) + 1 - i) // 2)
                for i, o, k, s, d in zip(in_hw, out_hw, kernel, stride, dilation)
            )
        elif not isinstance(padding, (tuple, list)):
            padding = (padding, padding)
        ints = lambda v: tuple(int(e) for e in v)  # noqa: E731
        return cls(
            int(x.shape[0]), int(x.shape[1]), ints(in_hw), ints(out_hw), ints(kernel),
            ints(stride), ints(padding), ints(dilation), int(groups),
        )  # fmt: skip


@dataclass(frozen=True)
class GemmRecord:
    """One GEMM executed by the forward pass, as ``groups`` GEMMs of ``(M, N/groups, K)``.

    Convs: ``M`` = batch x output pixels, ``N`` = output channels, ``K`` = channels per group x
    kernel taps. Batched matmuls (attention: batch x heads) are ``groups`` independent GEMMs, so
    ``N`` counts the columns of all of them, as for a grouped conv; ``macs`` is always M*N*K.
    ``input_block_nnz_hist[m]`` counts the blocks of ``m`` along the first operand's K holding
    0..m non-zeros (blocks never cross a group). Activation GEMMs have ``weight_numel == 0``.

    Beside the GEMM view, the tensors the layer really moves: ``input_shape`` (the layer input;
    an activation GEMM's first operand), ``input_bytes``, ``weight_bytes`` (an activation
    GEMM's second operand), ``output_bytes`` as profiled, and ``conv`` for 2-D convolutions.
    """

    fqn: str
    op: str
    M: int
    N: int
    K: int
    groups: int
    macs: int
    weight_numel: int
    is_weight_gemm: bool
    input_density: float
    input_block_nnz_hist: dict[int, tuple[int, ...]] = field(hash=False)  # a dict: picklable
    output_shape: tuple[int, ...]
    # Length of one blocked row of K: channels per group of a conv (K = that x kernel taps);
    # all of K otherwise. N:M blocks never cross it, and a row narrower than m cannot be blocked.
    channels_per_group: int = 0
    # Weight GEMMs: the measured fraction of non-zero weights and, per m, the blocks of m along
    # the weight's K holding 0..m non-zeros (how well N:M terms capture an unstructured-sparse
    # weight: a block with at most n non-zeros is exact under n:m). Empty for activation GEMMs.
    weight_density: float = 1.0
    weight_block_nnz_hist: dict[int, tuple[int, ...]] = field(default_factory=dict, hash=False)
    input_shape: tuple[int, ...] = ()  # () when unknown: the cost model uses M x K per group
    input_bytes: int = 0
    weight_bytes: int = 0
    output_bytes: int = 0
    conv: ConvGeometry | None = None

    @property
    def input_numel(self) -> int:
        return prod(self.input_shape) if self.input_shape else self.M * self.K * self.groups

    def as_row(self) -> dict:
        """A flat dict (scalars only): one histogram bin per column, the shape as ``AxBxC``."""
        row = {
            "fqn": self.fqn,
            "op": self.op,
            "M": self.M,
            "N": self.N,
            "K": self.K,
            "groups": self.groups,
            "macs": self.macs,
            "weight_numel": self.weight_numel,
            "is_weight_gemm": self.is_weight_gemm,
            "input_density": self.input_density,
            "output_shape": "x".join(str(s) for s in self.output_shape),
            "channels_per_group": self.channels_per_group,
            "input_shape": "x".join(str(d) for d in self.input_shape),
            "input_bytes": self.input_bytes,
            "weight_bytes": self.weight_bytes,
            "output_bytes": self.output_bytes,
        }
        if self.conv is not None:
            c = self.conv
            for name in ("kernel", "stride", "padding", "dilation"):
                row[f"conv_{name}"] = "x".join(str(v) for v in getattr(c, name))
            row["conv_groups"] = c.groups
        for m, counts in self.input_block_nnz_hist.items():
            row.update({f"input_blocks{m}_nnz{k}": c for k, c in enumerate(counts)})
        if self.is_weight_gemm:
            row["weight_density"] = self.weight_density
            for m, counts in self.weight_block_nnz_hist.items():
                row.update({f"weight_blocks{m}_nnz{k}": c for k, c in enumerate(counts)})
        return row


@dataclass(frozen=True)
class ModelProfile:
    """The GEMMs of one forward pass, in execution order (a module run twice appears twice)."""

    records: tuple[GemmRecord, ...]
    batch_size: int | None = None  # samples in the profiled forward (its first input's dim 0)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.records)

    def weight_gemms(self) -> tuple[GemmRecord, ...]:
        """Records of registered GEMM layers: the ones TASD-W can decompose."""
        return tuple(r for r in self.records if r.is_weight_gemm)

    def by_fqn(self, fqn: str) -> tuple[GemmRecord, ...]:
        """All records named ``fqn``; a KeyError suggests close names when there is none."""
        found = tuple(r for r in self.records if r.fqn == fqn)
        if not found:
            names = list(dict.fromkeys(r.fqn for r in self.records))
            close = difflib.get_close_matches(fqn, names, n=5)
            hint = f"; did you mean {close}?" if close else ""
            raise KeyError(f"no GEMM named {fqn!r} in this profile{hint}")
        return found

    def as_rows(self) -> list[dict]:
        """One flat dict per record, e.g. for ``pandas.DataFrame(profile.as_rows())``."""
        return [r.as_row() for r in self.records]
