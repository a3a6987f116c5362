"""tasd=auto: the shortest supported series that keeps a weight's energy."""

import pytest
import torch
from torch import nn

from tasder_plugin import approximate
from tasder_plugin.hardware import load_hardware
from tasder_plugin.search import SearchSpaceError, series_space
from tasder_plugin.search.auto import auto_plan, shortest_series


def _k_per_block(rows: int, cols: int, k: int, m: int = 8, seed: int = 0) -> torch.Tensor:
    """A weight with exactly ``k`` non-zeros in every block of ``m`` along dim 1."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=gen)
    blocks = w.view(rows, cols // m, m)
    keep = torch.rand(rows, cols // m, m, generator=gen).argsort(-1) < k
    return (blocks * keep).view(rows, cols)


@pytest.mark.parametrize("k, expected", [(1, "1:8"), (2, "2:8"), (3, "4:8"), (4, "4:8")])
def test_shortest_lossless_series_on_flex8_reproduces_k_of_8_exactly(k, expected):
    w = _k_per_block(64, 256, k)
    space = series_space(load_hardware("flex8").sparsity.weights, 2)
    series, kept = shortest_series(w, space, dim=1, min_kept_energy=0.999)
    assert str(series) == expected
    assert torch.equal(approximate(w, series, dim=1), w) and kept == 1.0


def test_auto_plan_picks_per_layer_and_leaves_dense_what_nothing_captures():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 8))
    with torch.no_grad():
        model[0].weight.copy_(_k_per_block(64, 64, 2))  # 75% sparse, 2 of every 8
    plan, choices = auto_plan(model, "flex8")
    assert str(plan["0"].weights) == "2:8" and plan["2"].weights is None  # dense weight: no fit
    by_fqn = {c.fqn: c for c in choices}
    assert by_fqn["0"].weight_density == pytest.approx(0.25)
    assert by_fqn["2"].series is None and by_fqn["2"].weight_density == 1.0
    # a lower bar lets the dense layer take a (lossy) series too
    loose, _ = auto_plan(model, "flex8", min_kept_energy=0.5)
    assert loose["2"].weights is not None


def test_auto_errors_are_clear():
    model = nn.Sequential(nn.Linear(8, 8))
    with pytest.raises(ValueError, match="min_kept_energy"):
        auto_plan(model, "flex8", min_kept_energy=0)
    with pytest.raises(SearchSpaceError, match="nothing to choose"):
        auto_plan(model, "dstc")
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        auto_plan(model, "flex8")
