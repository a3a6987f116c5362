"""Per-GEMM shapes (M, N, K) and input statistics of one forward pass, for the cost model.

The cost of a model on structured-sparse hardware is a sum over its GEMMs, so the profile lists
every GEMM a forward pass executes, in execution order:

- weight GEMMs: calls of registered GEMM layers (:func:`tasder_plugin.nn.layer_kind`), recorded by
  module hooks, one record per call however the layer computes it; these are what TASD-W changes;
- activation GEMMs: every other matmul / convolution (attention scores and values, functional
  ``x @ y``), recorded by a dispatch mode so that none is missed; they run dense.

``torch.nn.functional.scaled_dot_product_attention`` is caught before dispatch and listed as two
GEMMs (``QK^T`` and ``AV``) whatever kernel runs it, so fused and decomposed (math) backends give
the same profile. Total MACs equal ``torch.utils.flop_counter.FlopCounterMode`` FLOPs / 2 wherever
that counter sees the GEMMs: it has no formula for SDPA's CPU flash kernel (it counts 0 there) and
cannot see inside ``nn.MultiheadAttention``'s fused fast path, which the function mode used here
turns off, so the profile lists those GEMMs and the counter does not.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from math import prod

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from tqdm import tqdm

from .nn.layers import LayerKind, layer_kind
from .progress import progress_enabled
from .tasd.patterns import NMPattern
from .tasd.stats import block_nnz_histogram

__all__ = ["ConvGeometry", "GemmRecord", "ModelProfile", "profile_model", "HIST_BLOCK_SIZES"]

HIST_BLOCK_SIZES = (4, 8)  # block sizes m of the per-block non-zero histograms

aten = torch.ops.aten
# Operand positions of (first, second) GEMM operand in the aten ops FlopCounterMode counts.
_MATMUL_OPERANDS = {aten.mm: 0, aten.bmm: 0, aten.addmm: 1, aten.baddbmm: 1}


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


def _input_stats(
    x: torch.Tensor, dim: int, groups: int, block_sizes: Sequence[int]
) -> tuple[float, dict[int, tuple[int, ...]]]:
    """Density of ``x`` and its block histograms along ``dim``, blocks kept inside each group."""
    x = x.detach()
    if not x.is_floating_point():
        x = x.ne(0).float()
    dim %= x.ndim
    if groups > 1:
        x = x.unflatten(dim, (groups, x.shape[dim] // groups))
        dim += 1
    density = int(torch.count_nonzero(x)) / max(x.numel(), 1)
    hist = {m: tuple(block_nnz_histogram(x, m, dim)) for m in block_sizes}
    return density, hist


def _attention_support(q, k, attn_mask, is_causal) -> torch.Tensor:
    """Where the attention probabilities can be non-zero, broadcastable to ``(..., L, S)``.

    Softmax is positive wherever the mask admits a position, so the first operand of ``AV`` is
    known from the mask alone and is never materialised (fused kernels do not either).
    """
    length, source = q.shape[-2], k.shape[-2]
    if is_causal:  # torch's convention: top-left aligned lower triangle
        return torch.ones(length, source, dtype=torch.bool, device=q.device).tril()
    if attn_mask is None:
        return torch.ones(1, source, dtype=torch.bool, device=q.device)
    if attn_mask.dtype == torch.bool:
        support = attn_mask
    else:  # additive mask: -inf, or the dtype's minimum that HuggingFace uses, masks out
        support = attn_mask > torch.finfo(attn_mask.dtype).min / 2
    return support.expand(*support.shape[:-1], source)


def _support_stats(
    support: torch.Tensor, scores_numel: int, block_sizes: Sequence[int]
) -> tuple[float, dict[int, tuple[int, ...]]]:
    """Stats of the broadcast support: each of its rows stands for ``repeat`` score rows."""
    repeat = scores_numel // support.numel()
    density, hist = _input_stats(support.float(), -1, 1, block_sizes)
    return density, {m: tuple(c * repeat for c in h) for m, h in hist.items()}


def _sdpa_operands(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, **_):
    return query, key, value, attn_mask, is_causal


def _nbytes(x: torch.Tensor) -> int:
    return x.numel() * x.element_size()


def _first_tensor(*values) -> torch.Tensor | None:
    """The first tensor among ``values``, looking inside tuples and lists."""
    for v in values:
        found = _first_tensor(*v) if isinstance(v, (tuple, list)) else v
        if isinstance(found, torch.Tensor):
            return found
    return None


def _layer_tensor(fqn: str, *values) -> torch.Tensor:
    found = _first_tensor(*values)
    if found is None:
        raise ValueError(f"GEMM layer {fqn!r} was called without a tensor input or output")
    return found


class _Recorder:
    """State shared by the hooks and the modes: records, module stack, where GEMMs are opaque."""

    def __init__(self, block_sizes: Sequence[int], bar=None):
        self.block_sizes = tuple(block_sizes)
        self.bar = bar  # advanced once per weight GEMM layer, on its first call
        self.weight_stats: dict[str, dict] = {}  # per layer: density and histograms, once
        self.records: list[GemmRecord] = []
        self.stack: list[str] = []
        self.layer_depth = 0  # > 0 inside a registered GEMM layer's forward
        self.opaque_depth = 0  # > 0 inside an op already recorded as a whole (SDPA)
        self.pending_stats: tuple | None = None
        self.pending_input: torch.Tensor | None = None
        self.collect_stats = True  # False: shapes only (statistics come from another pass)
        self._suffixes: Counter = Counter()

    @property
    def records_activations(self) -> bool:
        return self.layer_depth == 0 and self.opaque_depth == 0

    @contextmanager
    def opaque(self) -> Iterator[None]:
        self.opaque_depth += 1
        try:
            yield
        finally:
            self.opaque_depth -= 1

    def activation_name(self, kind: str) -> str:
        fqn = self.stack[-1] if self.stack else ""
        index = self._suffixes[fqn, kind]
        self._suffixes[fqn, kind] += 1
        return f"{fqn}.{kind}{index}" if fqn else f"{kind}{index}"

    def stats(self, x: torch.Tensor, dim: int, groups: int) -> tuple[float, dict]:
        if not self.collect_stats:
            return 1.0, {}
        return _input_stats(x, dim, groups, self.block_sizes)

    def add(
        self, fqn, op, mnk, groups, stats, operands, weight_numel=0, row=None, weight_stats=None,
        conv=None,
    ) -> None:  # fmt: skip
        """``operands``: (input shape, input bytes, second-operand bytes, output shape, output
        bytes): the tensors the GEMM moves."""
        m, n, k = (int(d) for d in mnk)
        input_shape, input_bytes, weight_bytes, output_shape, output_bytes = operands
        self.records.append(
            GemmRecord(
                fqn=fqn,
                op=op,
                M=m,
                N=n,
                K=k,
                groups=int(groups),
                macs=m * n * k,
                weight_numel=int(weight_numel),
                is_weight_gemm=weight_numel > 0,
                input_density=stats[0],
                input_block_nnz_hist=stats[1],
                output_shape=tuple(int(d) for d in output_shape),
                channels_per_group=k if row is None else int(row),
                **(weight_stats or {}),
                input_shape=tuple(int(d) for d in input_shape),
                input_bytes=int(input_bytes),
                weight_bytes=int(weight_bytes),
                output_bytes=int(output_bytes),
                conv=conv,
            )
        )


def _layer_input_dim(kind: LayerKind, module: nn.Module, x: torch.Tensor) -> int:
    """Dim of the layer input holding K; an unbatched conv input ``(C, H, W)`` shifts it by one."""
    if kind.input_dim < 0:
        return kind.input_dim
    return kind.input_dim - max(module.weight.ndim - x.ndim, 0)


def _record_layer(rec: _Recorder, fqn: str, kind: LayerKind, module: nn.Module, out) -> None:
    """One weight GEMM from the layer's weight: K = channels per group x kernel taps."""
    weight = module.weight
    taps = weight.numel() // (weight.shape[0] * weight.shape[1]) if weight.ndim > 2 else 1
    k = kind.channels_per_group(module) * taps
    n = weight.numel() // k
    out = _layer_tensor(fqn, out)
    mnk = (out.numel() // n, n, k)
    row = kind.channels_per_group(module)
    if fqn not in rec.weight_stats:  # a layer called again has the same weight
        stats = {}
        if rec.collect_stats:
            stats = _weight_stats(weight.detach(), kind.weight_dim, rec.block_sizes)
        rec.weight_stats[fqn] = stats
        if rec.bar is not None:
            rec.bar.update(1)
    x = rec.pending_input
    conv = None
    if isinstance(module, nn.Conv2d) and x.ndim in (3, 4):
        geometry = (module.stride, module.padding, module.dilation, module.groups)
        conv = ConvGeometry.of(x, out, weight.shape[-2:], *geometry)
    operands = (x.shape, _nbytes(x), _nbytes(weight), out.shape, _nbytes(out))
    rec.add(
        fqn, kind.op, mnk, kind.groups(module), rec.pending_stats, operands, weight.numel(), row,
        rec.weight_stats[fqn], conv,
    )  # fmt: skip


def _weight_stats(weight: torch.Tensor, dim: int, block_sizes) -> dict:
    """Measured density and non-zeros per block of m along the weight's K dimension."""
    return {
        "weight_density": float((weight != 0).double().mean()),
        "weight_block_nnz_hist": {
            m: tuple(block_nnz_histogram(weight, m, dim=dim)) for m in block_sizes
        },
    }


def _install_hooks(model: nn.Module, rec: _Recorder, stack: ExitStack) -> None:
    """Hooks on every module: names for activation GEMMs, weight GEMMs for registered layers."""
    for fqn, module in model.named_modules():
        kind = layer_kind(module)

        def pre(module, args, kwargs, fqn=fqn, kind=kind):
            rec.stack.append(fqn)
            if kind is not None:
                if rec.layer_depth == 0:  # only the outermost registered layer is the GEMM
                    x = _layer_tensor(fqn, *args, *kwargs.values())
                    dim = _layer_input_dim(kind, module, x)
                    rec.pending_stats = rec.stats(x, dim, kind.groups(module))
                    rec.pending_input = x
                rec.layer_depth += 1

        def post(module, args, kwargs, out, fqn=fqn, kind=kind):
            rec.stack.pop()
            if kind is not None:
                rec.layer_depth -= 1
                if rec.layer_depth == 0 and out is not None:  # None: the forward raised
                    _record_layer(rec, fqn, kind, module, out)

        stack.callback(module.register_forward_pre_hook(pre, with_kwargs=True).remove)
        handle = module.register_forward_hook(post, with_kwargs=True, always_call=True)
        stack.callback(handle.remove)


class _ActivationGemmMode(TorchDispatchMode):
    """Records the aten GEMMs (mm family, convolution) run outside registered layers."""

    def __init__(self, rec: _Recorder):
        super().__init__()
        self.rec = rec

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.rec.records_activations:
            packet = func.overloadpacket
            if packet in _MATMUL_OPERANDS:
                first = _MATMUL_OPERANDS[packet]
                self._matmul(args[first], args[first + 1], out)
            elif packet is aten.convolution:
                self._convolution(*args[:2], *args[3:6], args[6], args[8], out)
        return out

    def _matmul(self, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
        batch = a.shape[0] if a.ndim == 3 else 1
        mnk = (a.shape[-2], batch * b.shape[-1], a.shape[-1])
        stats = self.rec.stats(a, -1, 1)
        operands = (a.shape, _nbytes(a), _nbytes(b), out.shape, _nbytes(out))
        self.rec.add(self.rec.activation_name("matmul"), "matmul", mnk, batch, stats, operands)

    def _convolution(self, x, weight, stride, padding, dilation, transposed, groups, out) -> None:
        """A functional conv: weight ``(cout, cin/g, *k)``, transposed ``(cin, cout/g, *k)``."""
        if transposed:  # each input pixel scatters cin/g channels to cout/g x taps outputs
            k = weight.shape[0] // groups
            mnk = (x.numel() // x.shape[1], weight.numel() // k, k)
        else:
            n = weight.shape[0]
            mnk = (out.numel() // n, n, weight.numel() // n)
        stats = self.rec.stats(x, 1, groups)
        name = self.rec.activation_name("conv")
        operands = (x.shape, _nbytes(x), _nbytes(weight), out.shape, _nbytes(out))
        conv = None
        if not transposed and weight.ndim == 4 and x.ndim in (3, 4):
            conv = ConvGeometry.of(x, out, weight.shape[-2:], stride, padding, dilation, groups)
        self.rec.add(name, "convolution", mnk, groups, stats, operands, conv=conv)


class _SdpaMode(TorchFunctionMode):
    """Records ``scaled_dot_product_attention`` as QK^T and AV, whichever kernel then runs it."""

    def __init__(self, rec: _Recorder):
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is not F.scaled_dot_product_attention or not self.rec.records_activations:
            return func(*args, **kwargs)
        with self.rec.opaque():  # a math backend decomposes into bmm: not counted twice
            out = func(*args, **kwargs)
        self._record(out, *_sdpa_operands(*args, **kwargs))
        return out

    def _record(self, out, q, k, v, attn_mask, is_causal) -> None:
        rec, sizes = self.rec, self.rec.block_sizes
        batch, length, source = prod(q.shape[:-2]), q.shape[-2], k.shape[-2]
        name = rec.activation_name("sdpa")
        scores = (*q.shape[:-1], source)  # never materialised by fused kernels
        scores_bytes = prod(scores) * q.element_size()
        qk = (length, batch * source, q.shape[-1])
        operands = (q.shape, _nbytes(q), _nbytes(k), scores, scores_bytes)
        rec.add(f"{name}.qk", "sdpa", qk, batch, rec.stats(q, -1, 1), operands)
        stats = (1.0, {})
        if rec.collect_stats:
            support = _attention_support(q, k, attn_mask, is_causal)
            stats = _support_stats(support, prod(scores), sizes)
        av = (length, batch * v.shape[-1], source)
        operands = (scores, scores_bytes, _nbytes(v), out.shape, _nbytes(out))
        rec.add(f"{name}.av", "sdpa", av, batch, stats, operands)


def _call_args(example_batch) -> tuple[tuple, dict]:
    """``(args, kwargs)`` for the forward call; checked before the model is touched."""
    if isinstance(example_batch, torch.Tensor):
        return (example_batch,), {}
    if isinstance(example_batch, tuple):
        return example_batch, {}
    if isinstance(example_batch, Mapping):  # dict, or HuggingFace's BatchEncoding
        return (), dict(example_batch)
    raise ValueError(
        "example_batch must be a tensor, a tuple of positional arguments or a dict of keyword "
        f"arguments, got {type(example_batch).__name__} (wrap a single list as (batch,))"
    )


def _restore_training(training: dict[nn.Module, bool]) -> None:
    for module, flag in training.items():
        module.training = flag  # not .train(): it recurses and may be overridden


def _gemm_layer_count(module: nn.Module) -> int:
    """Registered GEMM layers, not counting those nested inside another (one GEMM each)."""
    if layer_kind(module) is not None:
        return 1
    return sum(_gemm_layer_count(child) for child in module.children())


def _batch_size(args: tuple, kwargs: dict) -> int | None:
    """The leading dimension of the first tensor argument: the samples of one forward."""
    first = _first_tensor(*args, *kwargs.values())
    return None if first is None or first.ndim == 0 else int(first.shape[0])


def _resized(call: tuple, size: int) -> tuple:
    """``call`` with ``size`` samples: the first ones, repeated in order if there are fewer
    (only the shapes of this batch are used). Tensors without the batch dimension stay."""
    args, kwargs = call
    have = _batch_size(args, kwargs)
    index = torch.arange(size) % have

    def take(v):
        batched = isinstance(v, torch.Tensor) and v.ndim > 0 and v.shape[0] == have
        return v[index.to(v.device)] if batched else v

    return tuple(take(a) for a in args), {k: take(v) for k, v in kwargs.items()}


def _forward(model: nn.Module, call: tuple, rec: _Recorder) -> list[GemmRecord]:
    """One eval-mode, no-grad forward with every hook and mode installed; flags restored."""
    args, kwargs = call
    training = {module: module.training for module in model.modules()}
    with ExitStack() as stack:
        stack.callback(_restore_training, training)
        model.eval()
        _install_hooks(model, rec, stack)
        with torch.no_grad(), _SdpaMode(rec), _ActivationGemmMode(rec):
            model(*args, **kwargs)
    return rec.records


def _with_stats(shapes: list[GemmRecord], stats: list[GemmRecord]) -> tuple[GemmRecord, ...]:
    """Shapes of one forward, statistics of another of the same model (same GEMMs in order)."""
    names = [(r.fqn, r.op) for r in shapes]
    if names != [(r.fqn, r.op) for r in stats]:
        raise ValueError(
            "the model ran different GEMMs at batch_size than on the example batch (its control "
            "flow depends on the batch): profile without batch_size"
        )
    keep = ("input_density", "input_block_nnz_hist", "weight_density", "weight_block_nnz_hist")
    return tuple(
        replace(r, **{k: getattr(s, k) for k in keep}) for r, s in zip(shapes, stats, strict=True)
    )


def profile_model(
    model: nn.Module,
    example_batch,
    *,
    batch_size: int | None = None,
    block_sizes: Sequence[int] = HIST_BLOCK_SIZES,
    progress: bool | None = None,
) -> ModelProfile:
    """Run an eval-mode forward pass under ``torch.no_grad()`` and list the GEMMs it executes.

    ``example_batch`` is a tensor, a tuple of positional arguments or a dict of keyword
    arguments. ``batch_size``: the samples the profile's shapes (and so the cost) are for, the
    first ones of ``example_batch`` (repeated if it has fewer); input statistics (density, block
    histograms) are still measured on all of ``example_batch``, in a second forward. None: the
    whole example batch, one forward. The model's training
    flags are restored and every hook removed, even on error. ``progress``: a bar over the GEMM
    layers (activation statistics of a large model take a while); None shows it where
    :func:`progress_enabled` says.
    """
    call = _call_args(example_batch)
    stats_call = None
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if _batch_size(*call) is None:
            raise ValueError("batch_size needs an example batch with a tensor (its dim 0)")
        call, stats_call = _resized(call, batch_size), call
    for m in block_sizes:
        NMPattern(1, m)  # validates the block size before the model runs
    show = progress_enabled() if progress is None else progress
    with tqdm(
        total=_gemm_layer_count(model), desc="profile", unit="layer", disable=not show
    ) as bar:
        rec = _Recorder(block_sizes, None if stats_call else bar)  # the bar follows the stats
        rec.collect_stats = stats_call is None
        records = tuple(_forward(model, call, rec))
        if stats_call is not None:
            stats = _forward(model, stats_call, _Recorder(block_sizes, bar))
            records = _with_stats(list(records), stats)
    return ModelProfile(records=records, batch_size=_batch_size(*call))
