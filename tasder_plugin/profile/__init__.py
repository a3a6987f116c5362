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

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace

import torch
from torch import nn
from tqdm import tqdm

from ..errors import ConfigError
from ..nn.layers import layer_kind
from ..progress import progress_enabled
from ..tasd.patterns import NMPattern
from .recorder import ActivationGemmMode, Recorder, SdpaMode, first_tensor, install_hooks
from .records import ConvGeometry, GemmRecord, ModelProfile

__all__ = ["ConvGeometry", "GemmRecord", "ModelProfile", "profile_model", "HIST_BLOCK_SIZES"]

HIST_BLOCK_SIZES = (4, 8)  # block sizes m of the per-block non-zero histograms


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
    first = first_tensor(*args, *kwargs.values())
    return None if first is None or first.ndim == 0 else int(first.shape[0])


def _resized(call: tuple, size: int) -> tuple:
    """``call`` with ``size`` samples: the first ones, repeated in order if there are fewer
    (only the shapes of this batch are used). The batch is dim 0 of the first tensor; every
    tensor with that leading size is resized, inside tuples, lists and dicts too; others stay."""
    args, kwargs = call
    have = _batch_size(args, kwargs)
    index = torch.arange(size) % have

    def take(v):
        if isinstance(v, torch.Tensor):
            return v[index.to(v.device)] if v.ndim > 0 and v.shape[0] == have else v
        if isinstance(v, (tuple, list)):
            return type(v)(take(e) for e in v)
        if isinstance(v, Mapping):
            return {k: take(e) for k, e in v.items()}
        return v

    return take(args), take(kwargs)


def _forward(model: nn.Module, call: tuple, rec: Recorder) -> list[GemmRecord]:
    """One eval-mode, no-grad forward with every hook and mode installed; flags restored."""
    args, kwargs = call
    training = {module: module.training for module in model.modules()}
    with ExitStack() as stack:
        stack.callback(_restore_training, training)
        model.eval()
        install_hooks(model, rec, stack)
        with torch.no_grad(), SdpaMode(rec), ActivationGemmMode(rec):
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
    first ones of ``example_batch`` along dim 0 of its first tensor (repeated if it has fewer;
    a model whose inputs are not batch-first, e.g. ``nn.Transformer`` with
    ``batch_first=False``, needs an example batch of the right size instead); input statistics
    (density, block histograms) are still measured on all of ``example_batch``, in a second
    forward. None: the whole example batch, one forward. The model's training
    flags are restored and every hook removed, even on error. ``progress``: a bar over the GEMM
    layers (activation statistics of a large model take a while); None shows it where
    :func:`progress_enabled` says.
    """
    call = _call_args(example_batch)
    stats_call = None
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if _batch_size(*call) is None:
            raise ConfigError("batch_size needs an example batch with a tensor (its dim 0)")
        call, stats_call = _resized(call, batch_size), call
    for m in block_sizes:
        NMPattern(1, m)  # validates the block size before the model runs
    show = progress_enabled() if progress is None else progress
    with tqdm(
        total=_gemm_layer_count(model), desc="profile", unit="layer", disable=not show
    ) as bar:
        rec = Recorder(block_sizes, None if stats_call else bar)  # the bar follows the stats
        rec.collect_stats = stats_call is None
        records = tuple(_forward(model, call, rec))
        if stats_call is not None:
            stats = _forward(model, stats_call, Recorder(block_sizes, bar))
            records = _with_stats(list(records), stats)
    return ModelProfile(records=records, batch_size=_batch_size(*call))
