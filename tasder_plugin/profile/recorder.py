"""What records the GEMMs of a forward pass: module hooks for registered GEMM layers, a dispatch
mode for every other matmul / convolution, a function mode for scaled-dot-product attention."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from math import prod

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from ..nn.layers import LayerKind, layer_kind
from .records import ConvGeometry, GemmRecord
from .statistics import attention_support, input_stats, support_stats, weight_stats

__all__ = ["ActivationGemmMode", "Recorder", "SdpaMode", "first_tensor", "install_hooks"]

aten = torch.ops.aten
# Operand positions of (first, second) GEMM operand in the aten ops FlopCounterMode counts.
_MATMUL_OPERANDS = {aten.mm: 0, aten.bmm: 0, aten.addmm: 1, aten.baddbmm: 1}


def _sdpa_operands(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, **_):
    return query, key, value, attn_mask, is_causal


def _nbytes(x: torch.Tensor) -> int:
    return x.numel() * x.element_size()


def first_tensor(*values) -> torch.Tensor | None:
    """The first tensor among ``values``, looking inside tuples and lists."""
    for v in values:
        found = first_tensor(*v) if isinstance(v, (tuple, list)) else v
        if isinstance(found, torch.Tensor):
            return found
    return None


def _layer_tensor(fqn: str, *values) -> torch.Tensor:
    found = first_tensor(*values)
    if found is None:
        raise ValueError(f"GEMM layer {fqn!r} was called without a tensor input or output")
    return found


class Recorder:
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
        return input_stats(x, dim, groups, self.block_sizes)

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


def _record_layer(rec: Recorder, fqn: str, kind: LayerKind, module: nn.Module, out) -> None:
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
            stats = weight_stats(weight.detach(), kind.weight_dim, rec.block_sizes)
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


def install_hooks(model: nn.Module, rec: Recorder, stack: ExitStack) -> None:
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


class ActivationGemmMode(TorchDispatchMode):
    """Records the aten GEMMs (mm family, convolution) run outside registered layers."""

    def __init__(self, rec: Recorder):
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


class SdpaMode(TorchFunctionMode):
    """Records ``scaled_dot_product_attention`` as QK^T and AV, whichever kernel then runs it."""

    def __init__(self, rec: Recorder):
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
            support = attention_support(q, k, attn_mask, is_causal)
            stats = support_stats(support, prod(scores), sizes)
        av = (length, batch * v.shape[-1], source)
        operands = (scores, scores_bytes, _nbytes(v), out.shape, _nbytes(out))
        rec.add(f"{name}.av", "sdpa", av, batch, stats, operands)
