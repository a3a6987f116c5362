"""The measured search space: per layer, each candidate's energy, latency and sensitivity.

Built in four steps, each cheap relative to the next:

1. candidates per side from the hardware spec (:mod:`.candidates`), minus those surgery could not
   run on the layer (narrow groups, transformed weights);
2. cost of each candidate from the analytic cost model (vectorised over candidates);
3. where a side has more than ``max_candidates`` candidates, a proxy error (relative error of the
   weight, or of the layer input on a few samples) keeps the cost/error Pareto front only;
4. sensitivity: the divergence of the model's outputs from dense on calibration samples when
   that one layer takes that one candidate (a real forward pass each, or the Fisher estimate of
   it from one backward pass: :mod:`.sensitivity`). A series that reproduces
   the layer's (sparse) weight exactly (weight error 0), or any tensor exactly (``2:4+2:4``), is
   known to change nothing and costs no forward pass. On dual-side hardware a W+A pair is
   estimated as the sum of its two sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..hardware import cost_candidates
from ..hardware.spec import HardwareSpec
from ..hardware.table import build_table
from ..nn import approximate_input, layer_kind, unsupported_reason
from ..tasd import tasd_stats
from ..tasd.layer_plan import LayerPlan
from ..tasd.patterns import Side, TASDSeries
from .candidates import is_exact
from .evaluator import PlanEvaluator
from .objective import Objective

__all__ = ["LayerSpace", "Option", "SearchSpace", "build_space"]


@dataclass
class Option:
    candidate: LayerPlan
    energy_j: float
    latency_s: float
    sensitivity: float = 0.0  # mean divergence from dense with only this layer changed
    measured: bool = False  # sensitivity from a forward pass (else exact: 0, or a W+A sum)
    proxy_error: float | None = None

    def saving(self, start: Option, weights: tuple[float, float]) -> float:
        """The linearised objective saved by taking this option instead of ``start``."""
        return weights[0] * (start.energy_j - self.energy_j) + weights[1] * (
            start.latency_s - self.latency_s
        )

    def as_row(self) -> dict:
        return {
            "candidate": self.candidate.label(),
            "energy_j": self.energy_j,
            "latency_s": self.latency_s,
            "sensitivity": self.sensitivity,
            "measured": self.measured,
            "proxy_error": self.proxy_error,
        }


@dataclass
class LayerSpace:
    fqn: str
    op: str
    macs: int
    options: list[Option]  # options[0] is dense
    pruned: int = 0  # candidates dropped by the cost/proxy Pareto filter


@dataclass
class SearchSpace:
    layers: list[LayerSpace]
    fixed_energy_j: float  # GEMMs the search does not change (activation GEMMs, skipped layers)
    fixed_latency_s: float
    objective: Objective

    def totals(self, choice: list[int]) -> tuple[float, float]:
        e = self.fixed_energy_j + sum(ls.options[c].energy_j for ls, c in zip(self.layers, choice))
        d = self.fixed_latency_s + sum(
            ls.options[c].latency_s for ls, c in zip(self.layers, choice)
        )
        return e, d

    def value(self, choice: list[int]) -> float:
        return self.objective.value(*self.totals(choice))

    def weights(self, choice: list[int] | None = None) -> tuple[float, float]:
        """The objective linearised at ``choice``'s totals (default: dense)."""
        return self.objective.weights(
            *self.totals(self.dense_choice() if choice is None else choice)
        )

    def dense_choice(self) -> list[int]:
        return [0] * len(self.layers)

    def selection(self, choice: list[int]) -> dict[str, LayerPlan]:
        return {
            ls.fqn: ls.options[c].candidate
            for ls, c in zip(self.layers, choice)
            if not ls.options[c].candidate.is_dense
        }


class _Costs:
    """Costs of candidate layer plans on profile records, tables cached by row class."""

    def __init__(self, hw: HardwareSpec):
        self.hw = hw
        self._tables: dict[tuple, object] = {}

    def __call__(self, records, plans: list[LayerPlan]) -> tuple[np.ndarray, np.ndarray]:
        energy = np.zeros(len(plans))
        latency = np.zeros(len(plans))
        for r in records:
            row = r.channels_per_group or None
            key = (row, r.is_weight_gemm, tuple(plans))
            if key not in self._tables:
                self._tables[key] = build_table(
                    plans, self.hw, row=row, is_weight_gemm=r.is_weight_gemm
                )
            out = cost_candidates(r, self._tables[key], self.hw)
            energy += out["energy_j"]
            latency += out["latency_s"]
        return energy, latency


def _pareto(costs: np.ndarray, errors: list[float], keep: int) -> list[int]:
    """Indices on the (cost, error) front, cheapest first, thinned evenly to ``keep``."""
    front, best = [], float("inf")
    for i in sorted(range(len(costs)), key=lambda i: (costs[i], errors[i])):
        if errors[i] < best:
            front.append(i)
            best = errors[i]
    if len(front) > keep:
        picks = np.linspace(0, len(front) - 1, keep).round().astype(int)
        front = [front[i] for i in sorted(set(picks.tolist()))]
    return front


def _weight_errors(module: nn.Module, series: list[TASDSeries]) -> list[float]:
    """Relative error of the layer's weight under each series (0.0: the series is exact)."""
    w, dim = module.weight.detach(), layer_kind(module).weight_dim
    return [tasd_stats(w, s, dim).relative_error for s in series]


@torch.no_grad()
def _input_errors(model, modules: dict, series: dict, evaluator, index) -> dict:
    """Relative error of each layer input under each activation series (one forward pass)."""
    errors: dict[str, list[float]] = {}
    handles = []
    for fqn, module in modules.items():
        kind, groups = layer_kind(module), layer_kind(module).groups(module)

        def hook(mod, args, fqn=fqn, kind=kind, groups=groups):
            x = args[0]
            norm = float(x.double().norm()) or 1.0
            errors[fqn] = [
                float((x - approximate_input(x, s, kind, groups)).double().norm()) / norm
                for s in series[fqn]
            ]

        handles.append(module.register_forward_pre_hook(hook))
    try:
        chunk = next(evaluator.calib.chunks(index))[1]
        evaluator.forwards += 1
        evaluator.scorer.outputs(model, chunk)
    finally:
        for h in handles:
            h.remove()
    return errors


def _side_candidates(side: Side, series: list[TASDSeries]) -> list[LayerPlan]:
    return [LayerPlan(weights=s) if side == Side.W else LayerPlan(activations=s) for s in series]


def _series_of(candidate: LayerPlan) -> TASDSeries:
    return candidate.weights if candidate.weights is not None else candidate.activations


@dataclass
class _Layer:
    """Working state of one layer while the space is built."""

    fqn: str
    module: nn.Module
    records: list
    sides: dict[str, list[TASDSeries]]
    dense: tuple[float, float] = (0.0, 0.0)
    kept: dict[str, list[Option]] = field(default_factory=dict)
    pruned: int = 0


def _score(weights: tuple[float, float], energy_j, latency_s):
    """The linearised objective of a layer choice (see :mod:`.objective`)."""
    return weights[0] * energy_j + weights[1] * latency_s


def _prune(layer: _Layer, costs: _Costs, weights, keep: int, proxies: dict) -> None:
    """Keep candidates cheaper than dense; above ``keep`` per side, the Pareto front only."""
    dense_score = _score(weights, *layer.dense)
    for side, series in layer.sides.items():
        cands = _side_candidates(side, series)
        if not cands:
            layer.kept[side] = []
            continue
        energy, latency = costs(layer.records, cands)
        score = _score(weights, energy, latency)
        useful = [i for i in range(len(cands)) if score[i] < dense_score]
        errors = proxies.get((layer.fqn, side))
        if errors is not None and len(useful) > keep:
            chosen = [useful[i] for i in _pareto(score[useful], [errors[i] for i in useful], keep)]
        else:
            chosen = useful
        layer.pruned += len(cands) - len(chosen)
        layer.kept[side] = [
            Option(cands[i], float(energy[i]), float(latency[i]),
                   proxy_error=None if errors is None else errors[i])
            for i in chosen
        ]  # fmt: skip


def _proxies(model, layers: list[_Layer], evaluator, index, keep: int) -> dict:
    """Proxy errors: of every weight-side candidate (cheap, and an error of exactly 0 is the prior
    a sparse weight gives for free), of input-side candidates only where pruning needs them."""
    proxies: dict[tuple[str, str], list[float]] = {}
    need_inputs = {}
    for layer in layers:
        proxies[(layer.fqn, Side.W)] = _weight_errors(layer.module, layer.sides[Side.W])
        if len(layer.sides[Side.A]) > keep:
            need_inputs[layer.fqn] = layer
    if need_inputs:
        modules = {fqn: layer.module for fqn, layer in need_inputs.items()}
        series = {fqn: layer.sides[Side.A] for fqn, layer in need_inputs.items()}
        errors = _input_errors(model, modules, series, evaluator, index)
        proxies.update({(fqn, Side.A): errs for fqn, errs in errors.items()})
    return proxies


def _measure(layers: list[_Layer], evaluator: PlanEvaluator, index, method: str, progress) -> None:
    from .sensitivity import SENSITIVITIES

    todo = [
        (layer, opt)
        for layer in layers
        for side in Side
        for opt in layer.kept[side]
        # exact for any tensor (2:4+2:4), or for this (sparse) weight: changes nothing
        if not is_exact(_series_of(opt.candidate)) and not (side == Side.W and opt.proxy_error == 0)
    ]
    requests = [(layer.fqn, opt.candidate) for layer, opt in todo]
    measured = SENSITIVITIES.get(method)(evaluator, requests, index, progress) if todo else []
    for (_, opt), sensitivity in zip(todo, measured):
        opt.sensitivity = sensitivity
        opt.measured = True


def _options(layer: _Layer, costs: _Costs, dual: bool, weights) -> list[Option]:
    options = [Option(LayerPlan(), *layer.dense, measured=True)]
    options += layer.kept[Side.W] + layer.kept[Side.A]
    if dual and layer.kept[Side.W] and layer.kept[Side.A]:
        pairs = [(w, a) for w in layer.kept[Side.W] for a in layer.kept[Side.A]]
        duals = [LayerPlan(w.candidate.weights, a.candidate.activations) for w, a in pairs]
        energy, latency = costs(layer.records, duals)
        dense_score = _score(weights, *layer.dense)
        for (w, a), cand, e, d in zip(pairs, duals, energy, latency):
            if _score(weights, e, d) < dense_score:
                options.append(Option(cand, float(e), float(d), w.sensitivity + a.sensitivity))
    return options


def _target_layers(model: nn.Module, profile, sides, targets: list[str], costs) -> list[_Layer]:
    """The profiled target layers with the series each side may use, costed dense."""
    by_fqn: dict[str, list] = {}
    for r in profile.records:
        by_fqn.setdefault(r.fqn, []).append(r)
    layers = []
    for fqn in targets:
        if fqn not in by_fqn:
            continue  # not executed by the profiled forward: nothing to gain
        module = model.get_submodule(fqn)
        eligible = {
            side: [s for s in series if unsupported_reason(module, s, side) is None]
            for side, series in sides.items()
        }
        layer = _Layer(fqn, module, by_fqn[fqn], eligible)
        e, d = costs(layer.records, [LayerPlan()])
        layer.dense = (float(e[0]), float(d[0]))
        layers.append(layer)
    return layers


def build_space(
    model: nn.Module,
    profile,
    hw: HardwareSpec,
    evaluator: PlanEvaluator,
    sides: dict[str, list[TASDSeries]],
    objective: Objective,
    *,
    targets: list[str],
    max_candidates: int,
    sensitivity_index: torch.Tensor,
    sensitivity: str = "forward",
    progress: bool = False,
) -> SearchSpace:
    """Cost, prune and measure every target layer's candidates (see the module docstring)."""
    costs = _Costs(hw)
    layers = _target_layers(model, profile, sides, targets, costs)
    searched = {layer.fqn for layer in layers}
    fixed = [r for r in profile.records if r.fqn not in searched]
    fixed_e, fixed_d = costs(fixed, [LayerPlan()]) if fixed else (np.zeros(1), np.zeros(1))
    dense_e = float(fixed_e[0]) + sum(layer.dense[0] for layer in layers)
    dense_d = float(fixed_d[0]) + sum(layer.dense[1] for layer in layers)
    weights = objective.weights(dense_e, dense_d)
    with evaluator.clock("proxy errors"):
        proxies = _proxies(model, layers, evaluator, sensitivity_index, max_candidates)
    for layer in layers:
        _prune(layer, costs, weights, max_candidates, proxies)
    with evaluator.clock("sensitivity"):
        _measure(layers, evaluator, sensitivity_index, sensitivity, progress)
    spaces = [
        LayerSpace(
            layer.fqn,
            layer.records[0].op,
            sum(r.macs for r in layer.records),
            _options(layer, costs, hw.sparsity.dual, weights),
            layer.pruned,
        )
        for layer in layers
    ]
    return SearchSpace(spaces, float(fixed_e[0]), float(fixed_d[0]), objective)
