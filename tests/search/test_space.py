"""The search space read off the hardware spec, and the calibration split."""

import pytest
import torch

from tasder_plugin import TASDSeries
from tasder_plugin.hardware import load_hardware
from tasder_plugin.search import Calibration, CalibrationError, SearchSpaceError, series_space
from tasder_plugin.search.candidates import is_exact, side_spaces


def _names(series):
    return [str(s) for s in series]


def test_series_space_skips_same_m_sums_that_a_single_pattern_runs():
    patterns = load_hardware("vegeta").sparsity.weights  # 1:4, 2:4, 4:4
    assert _names(series_space(patterns, 1)) == ["2:4", "1:4"]
    # 1:4+1:4 keeps exactly what 2:4 keeps, 2:4+2:4 what 4:4 (dense) keeps: both skipped;
    # 2:4+1:4 keeps the top 3 of 4, which no single supported pattern does
    assert _names(series_space(patterns, 2)) == ["2:4", "1:4", "2:4+1:4"]


def test_two_of_four_hardware_offers_the_exact_two_pass_series():
    spaces = side_spaces(load_hardware("2of4"), 2)
    assert _names(spaces["W"]) == ["2:4", "2:4+2:4"] == _names(spaces["A"])
    assert is_exact(TASDSeries.parse("2:4+2:4")) and not is_exact(TASDSeries.parse("2:4+1:4"))


def test_denser_term_comes_first_and_series_are_distinct():
    space = series_space(load_hardware("flex8").sparsity.weights, 2)
    for series in space:
        densities = [p.density for p in series]
        assert densities == sorted(densities, reverse=True)
    assert len(set(_names(space))) == len(space)


def test_hardware_without_nm_patterns_has_nothing_to_search():
    with pytest.raises(SearchSpaceError, match="dstc.*nothing to choose"):
        side_spaces(load_hardware("dstc"), 2)


def test_max_terms_must_be_positive():
    with pytest.raises(ValueError, match="max_terms"):
        series_space(load_hardware("2of4").sparsity.weights, 0)


def _batches(count, batch=16):
    x = torch.arange(count, dtype=torch.float32).unsqueeze(1)
    y = torch.arange(count) % 3
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, count, batch)]


def test_calibration_parts_are_disjoint_cover_everything_and_are_seeded():
    a = Calibration.from_batches(_batches(100), holdout=0.3, seed=0)
    b = Calibration.from_batches(_batches(100), holdout=0.3, seed=0)
    c = Calibration.from_batches(_batches(100), holdout=0.3, seed=1)
    assert len(a.holdout) == 30 and len(a.search) == 70
    assert sorted(torch.cat([a.search, a.holdout]).tolist()) == list(range(100))
    assert torch.equal(a.search, b.search) and not torch.equal(a.search, c.search)
    assert torch.equal(a.labels, torch.arange(100) % 3)
    chunks = list(a.chunks(a.search))
    assert sum(len(idx) for idx, _ in chunks) == 70 and all(len(idx) <= 16 for idx, _ in chunks)
    assert torch.equal(torch.cat([x for _, x in chunks]).flatten(), a.search.float())


@pytest.mark.parametrize(
    "batches, holdout, message",
    [
        (None, 0.3, "needs calibration data"),
        ([], 0.3, "empty"),
        (_batches(1), 0.3, "cannot be split"),
        (_batches(10), 1.0, "holdout must be in"),
    ],
)
def test_unusable_calibration_data_is_a_clear_error(batches, holdout, message):
    with pytest.raises(CalibrationError, match=message):
        Calibration.from_batches(batches, holdout=holdout)
