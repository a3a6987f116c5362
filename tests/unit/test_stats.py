import math

import pytest
import torch

from tasder_plugin import block_nnz_histogram, tasd_stats


def test_stats_of_a_dense_random_matrix():
    x = torch.randn(64, 128)
    stats = tasd_stats(x, "2:4", dim=1)
    assert stats.series == "2:4" and stats.numel == x.numel()
    assert stats.density == pytest.approx(0.5) and stats.term_densities == (0.5,)
    assert stats.input_density == 1.0
    assert 0.5 < stats.kept_energy < 1.0
    assert stats.relative_error == pytest.approx(math.sqrt(1 - stats.kept_energy), rel=1e-6)
    # every block of 4 in the term holds exactly 2 non-zeros
    assert stats.block_nnz_histograms == ((0, 0, 64 * 32, 0, 0),)


def test_stats_of_an_exact_series_and_of_zeros():
    x = torch.randn(16, 32)
    exact = tasd_stats(x, "2:4+2:4", dim=1)
    assert exact.kept_energy == 1.0 and exact.relative_error == 0.0 and exact.density == 1.0
    zeros = tasd_stats(torch.zeros(4, 8), "2:4", dim=1)
    assert zeros.kept_energy == 1.0 and zeros.relative_error == 0.0 and zeros.density == 0.0


def test_stats_in_half_precision_do_not_overflow():
    x = (torch.randn(32, 64) * 300).half()  # squares overflow fp16
    stats = tasd_stats(x, "2:4", dim=1)
    assert math.isfinite(stats.kept_energy) and 0 < stats.kept_energy < 1


def test_block_histogram_counts_tail_blocks():
    x = torch.tensor([[1.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0]])  # blocks [1,0,2,0] [0,3,0]
    assert block_nnz_histogram(x, 4, dim=1) == [0, 1, 1, 0, 0]
    sparse = torch.zeros(8, 16)
    sparse[:, ::4] = 1.0  # one non-zero per block of 4: 2:4 is lossless, 1:4 too
    assert tasd_stats(sparse, "1:4", 1).kept_energy == 1.0
    assert block_nnz_histogram(sparse, 8, 1) == [0, 0, 16, 0, 0, 0, 0, 0, 0]


def test_stats_as_dict_is_flat_and_serialisable():
    import json

    row = tasd_stats(torch.randn(4, 8), "2:4+1:8", 1).as_dict()
    assert json.loads(json.dumps(row))["series"] == "2:4+1:8"
