"""The search's machinery: the ranked path, the bisection, prefix replay, early budget checks,
the holdout margin and the per-phase summary."""

from types import SimpleNamespace

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from tasder_plugin.models import build_reference
from tasder_plugin.models.reference import reference_spec
from tasder_plugin.nn import LayerPlan, select_layers
from tasder_plugin.search import Calibration, run_search
from tasder_plugin.search.evaluator import PlanEvaluator
from tasder_plugin.search.objective import get_objective
from tasder_plugin.search.phases import PhaseClock
from tasder_plugin.search.ranked import ranked_path
from tasder_plugin.search.scoring import get_scorer
from tasder_plugin.search.space import LayerSpace, Option, SearchSpace
from tasder_plugin.search.strategies import SearchContext, longest_passing
from tasder_plugin.tasd.patterns import TASDSeries

W24, A24 = (
    LayerPlan(weights=TASDSeries.parse("2:4")),
    LayerPlan(activations=TASDSeries.parse("2:4")),
)


def _space(rows) -> SearchSpace:
    """Layers of (energy, sensitivity) options, option 0 dense; latency 1 s each."""
    layers = [
        LayerSpace(f"l{i}", "linear", 1, [Option(LayerPlan(), e, 1.0, s) for e, s in row])
        for i, row in enumerate(rows)
    ]
    return SearchSpace(layers, 0.0, 0.0, get_objective("energy"))


def test_ranked_path_adds_the_least_sensitive_saving_first_and_only_cheaper_steps():
    # layer 0: saves 5 at sensitivity 1 (ratio 0.2) or 8 at 8 (ratio 1.0)
    # layer 1: saves 2 at sensitivity 0.1 (ratio 0.05)
    space = _space([[(10, 0), (5, 1.0), (2, 8.0)], [(10, 0), (8, 0.1)]])
    path = ranked_path(space)
    assert path == [[0, 0], [0, 1], [1, 1], [2, 1]]
    values = [space.value(c) for c in path]
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values)


class _Scripted(SearchContext):
    """A context whose budget holds up to a known index of the path; counts its checks."""

    def __init__(self, path, last_ok):
        evaluator = SimpleNamespace(clock=PhaseClock(lambda: 0))
        super().__init__(_space([[(1, 0)]]), evaluator, 0.01)
        self.ok, self.checks = {tuple(c) for c in path[: last_ok + 1]}, 0

    def passes(self, choice, part="search", step=""):
        self.checks += 1
        return tuple(choice) in self.ok


@pytest.mark.parametrize("last_ok", [0, 1, 5, 9, 10])
def test_bisection_finds_the_last_passing_plan_in_log_checks(last_ok):
    path = [[i] for i in range(11)]
    ctx = _Scripted(path, last_ok)
    assert longest_passing(ctx, path, "t") == last_ok
    assert ctx.checks <= 4  # ceil(log2(11))


@pytest.fixture(scope="module")
def resnet20():
    model = build_reference("reference_resnet20")
    x, y = reference_spec("reference_resnet20").splits()["calib"].tensors
    calib = Calibration.from_batches(DataLoader(TensorDataset(x[:300], y[:300]), batch_size=100))
    scorer = get_scorer("classification")
    return model, calib, PlanEvaluator(model, select_layers(model), calib, scorer)


def test_prefix_replay_gives_the_full_forwards_answer_bit_for_bit(resnet20):
    model, calib, evaluator = resnet20
    index = calib.search[:64]
    for fqn in ("conv1", "layer2.1.conv2", "layer3.2.conv2", "fc"):
        for plan in (W24, A24):
            replayed = evaluator.divergence({fqn: plan}, index)
            out = evaluator._run({fqn: plan}, index)  # no replay: the whole network
            full = float(evaluator.scorer.divergence(evaluator.dense[index], out).double().mean())
            assert replayed == full, (fqn, plan.label())
    assert not any("forward" in vars(m) for m in model.modules())  # nothing left patched


def test_a_budget_check_stops_early_only_when_the_answer_is_already_known(resnet20):
    _, calib, evaluator = resnet20
    harmful = {fqn: W24 for fqn in select_layers(evaluator.model)}  # 2:4 everywhere: ruinous
    ok, bound = evaluator.check(harmful, "search", 0.01, 1.0)
    measured = evaluator._quality[tuple(sorted((k, W24.label()) for k in harmful))][1]
    assert not ok and bound > 0.01 and measured.sum() < len(calib.search)  # stopped early
    mild = {"layer3.2.conv2": A24}
    ok, drop = evaluator.check(mild, "search", 0.05, 1.0)
    assert drop == evaluator.drop(mild, "search", 1.0) and ok == (drop <= 0.05)


def test_the_summary_reports_phases_and_the_holdout_error():
    model = build_reference("reference_resnet")
    x, y = reference_spec("reference_resnet").splits()["calib"].tensors
    found = run_search(model, DataLoader(TensorDataset(x, y), batch_size=128), "2of4",
                       strategy="ranked")  # fmt: skip
    s = found.summary
    assert {"dense outputs", "sensitivity", "ranked bisection", "holdout guard"} <= set(s["phases"])
    assert sum(p["forwards"] for p in s["phases"].values()) == s["forwards"]
    assert sum(p["seconds"] for p in s["phases"].values()) <= s["wall_s"]
    assert s["drop_holdout_se"] >= 0 and s["drop_holdout"] <= 0.01 + s["drop_holdout_se"]


def test_the_holdout_asks_the_same_margin_in_points_as_the_search_part(resnet20):
    _, calib, evaluator = resnet20
    ctx = SearchContext(_space([[(1, 0)]]), evaluator, 0.01)
    assert ctx._margin_scale("search") == 1.0
    assert ctx._margin_scale("holdout") == pytest.approx(
        (len(calib.holdout) / len(calib.search)) ** 0.5
    )


def test_prefix_replay_is_exact_with_shared_and_repeated_blocks():
    from tasder_plugin.search.prefix_replay import PrefixReplay, Recording

    torch.manual_seed(0)
    act = torch.nn.ReLU()  # one module, called twice per forward, and held by two containers
    body = torch.nn.Sequential(torch.nn.Linear(8, 8), act, torch.nn.Linear(8, 8), act)
    model = torch.nn.Sequential(body, torch.nn.Sequential(act, torch.nn.Linear(8, 4)))
    x = torch.randn(5, 8)
    replay, recording = PrefixReplay(model), Recording("x")
    with torch.no_grad(), replay.run(None, [], recording):
        dense = model(x)
    with torch.no_grad():
        model[1][1].weight.mul_(2)  # the last layer changes, the rest replays
        with replay.run(recording, [model[1][1]]):
            replayed = model(x)
        assert torch.equal(replayed, model(x)) and not torch.equal(replayed, dense)
    assert not any("forward" in vars(m) for m in model.modules())


def test_prefix_replay_runs_blocks_tied_to_a_changed_layer_and_keeps_instance_forwards():
    from tasder_plugin.search.prefix_replay import PrefixReplay, Recording

    torch.manual_seed(0)
    first, tied = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
    tied.weight = first.weight  # one tensor in two layers, as tied embeddings are
    model = torch.nn.Sequential(tied, torch.nn.Tanh(), first)  # the tied one runs first
    custom = model[1].forward  # a forward set on the instance (as accelerate's hooks are)
    model[1].forward = custom
    x = torch.randn(4, 8)
    replay, recording = PrefixReplay(model), Recording("x")
    with torch.no_grad(), replay.run(None, [], recording):
        model(x)
    with torch.no_grad():
        first.weight.mul_(0.5)  # changes layer 2 and, through the tie, layer 0
        with replay.run(recording, [first]):
            replayed = model(x)
        assert torch.equal(replayed, model(x))
    assert model[1].__dict__["forward"] is custom and "forward" not in vars(model[2])
