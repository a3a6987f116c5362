"""Single-layer sensitivities: how far the model moves from dense when one layer alone takes one
candidate. Two ways to measure it, by name (``tasd.sensitivity``):

``forward``: the divergence from dense of a real forward pass per (layer, candidate), the blocks
before the layer replayed (exact; one network suffix per candidate).

``fisher``: every (layer, candidate) from one forward and one backward pass per calibration
chunk. With ``g`` the gradient of the scorer's loss with respect to a layer's output ``y``, a
change ``dy`` of that output raises the loss by about ``1/2 sum (g . dy)^2`` over output
positions: the second-order term with the empirical Fisher for the Hessian (the first-order
term vanishes on average at a trained optimum); Theis et al. 2018 and Molchanov et al. 2019
prune by the same estimate. ``dy`` is the layer itself rerun on its recorded input with the
candidate applied (weights, input or both, exactly as surgery applies them), so no further pass
through the network is needed. Per loss term (token or sample), in the loss's units: for a causal
LM, nats of mean NLL. Hundreds of layers (a causal LM's) take minutes this way, not hours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..nn import LayerPlan, ModelPlan, apply_tasd_, layer_kind, remove_tasd_
from ..registry import Registry
from .evaluator import PlanEvaluator

__all__ = ["SENSITIVITIES", "Request", "resolve_method"]

Request = tuple[str, LayerPlan]  # (layer fqn, candidate)
Measure = Callable[[PlanEvaluator, list[Request], torch.Tensor, bool], list[float]]

SENSITIVITIES: Registry[Measure] = Registry("tasd.sensitivity")


def resolve_method(name: str, scorer) -> str:
    """``auto`` is the scorer's own default; any other name must be registered."""
    name = scorer.default_sensitivity if name == "auto" else name
    SENSITIVITIES.get(name)
    return name


@SENSITIVITIES.entry("forward")
def forward_sensitivities(
    evaluator: PlanEvaluator, requests: list[Request], index: torch.Tensor, progress: bool
) -> list[float]:
    """The divergence of one real forward pass per request (the prefix replayed: exact)."""
    from tqdm.auto import tqdm

    bar = tqdm(requests, desc="search: sensitivity", disable=not progress, leave=False)
    return [evaluator.divergence({fqn: candidate}, index) for fqn, candidate in bar]


@contextmanager
def _gradients_on(model: nn.Module) -> Iterator[None]:
    """Gradients flow through every parameter for the block (whatever was frozen before)."""
    frozen = [p for p in model.parameters() if not p.requires_grad]
    for p in frozen:
        p.requires_grad_(True)
    try:
        with torch.enable_grad():
            yield
    finally:
        for p in frozen:
            p.requires_grad_(False)


def _record_layers(model: nn.Module, fqns: list[str], inputs, loss_of):
    """One forward and backward pass: per layer, its calls' (input, output, output gradient)."""
    calls: dict[str, list] = {fqn: [] for fqn in fqns}
    handles = []
    for fqn in fqns:

        def hook(module, args, out, fqn=fqn):
            if args and torch.is_tensor(args[0]) and torch.is_tensor(out) and out.requires_grad:
                calls[fqn].append([args[0].detach(), out])

        handles.append(model.get_submodule(fqn).register_forward_hook(hook))
    try:
        with _gradients_on(model):
            loss, count = loss_of(model, inputs)
            outs = [call[1] for fqn in fqns for call in calls[fqn]]
            grads = torch.autograd.grad(loss, outs, allow_unused=True) if outs else []
    finally:
        for h in handles:
            h.remove()
    flat = iter(grads)
    for fqn in fqns:
        for call in calls[fqn]:
            call[1], grad = call[1].detach(), next(flat)
            call.append(None if grad is None else grad.detach())
    return calls, count


@torch.no_grad()
def _squared_taylor(model: nn.Module, fqn: str, candidate: LayerPlan, calls: list) -> float:
    """``1/2 sum (g . dy)^2`` over the layer's output positions for one candidate."""
    module = model.get_submodule(fqn)
    feature_dim = layer_kind(module).input_dim  # outputs lay features out as inputs do
    apply_tasd_(model, ModelPlan({fqn: candidate}))
    try:
        total = 0.0
        for x, y, grad in calls:
            if grad is not None:
                change = (grad.double() * (module(x) - y).double()).sum(feature_dim)
                total += 0.5 * float(change.square().sum())
        return total
    finally:
        remove_tasd_(model)


@SENSITIVITIES.entry("fisher")
def fisher_sensitivities(
    evaluator: PlanEvaluator, requests: list[Request], index: torch.Tensor, progress: bool
) -> list[float]:
    """The Fisher estimate of every request (module docstring), per loss term."""
    from tqdm.auto import tqdm

    model, calib, loss_of = evaluator.model, evaluator.calib, evaluator.scorer.loss
    fqns = list(dict.fromkeys(fqn for fqn, _ in requests))
    totals, terms = [0.0] * len(requests), 0
    chunks = list(calib.chunks(index))
    bar = tqdm(total=len(chunks) * len(requests), desc="search: sensitivity (fisher)",
               disable=not progress, leave=False)  # fmt: skip
    with bar:
        evaluator.forwards += 1  # one pass (forward and backward) over the samples
        for _, inputs in chunks:
            calls, count = _record_layers(model, fqns, inputs, loss_of)
            terms += count
            for k, (fqn, candidate) in enumerate(requests):
                totals[k] += _squared_taylor(model, fqn, candidate, calls[fqn])
                bar.update()
            del calls
    return [t / max(terms, 1) for t in totals]
