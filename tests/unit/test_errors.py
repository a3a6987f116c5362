import pytest
import torch

from tasder_plugin import approximate, decompose, nm_mask, tasd_stats


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("text", ["2:4", "2:4+1:8", "dense", "3:17+2:19"])
def test_non_finite_values_are_rejected(bad, dtype, text):
    x = torch.randn(4, 40).to(dtype)
    x[2, 37] = bad  # in the tail of a 17/19 block and of the 8 block
    with pytest.raises(ValueError, match="NaN/Inf"):
        decompose(x, text, dim=1)
    with pytest.raises(ValueError, match="NaN/Inf"):
        approximate(x, text, dim=1)


def test_nm_mask_rejects_non_finite():
    with pytest.raises(ValueError, match="NaN/Inf"):
        nm_mask(torch.tensor([1.0, float("nan")]), 1, 2)


@pytest.mark.parametrize("dim", [2, -3, 5])
def test_out_of_range_dim(dim):
    with pytest.raises(ValueError, match="out of range"):
        decompose(torch.randn(3, 4), "2:4", dim=dim)


def test_zero_dim_tensor_and_non_float_dtype():
    with pytest.raises(ValueError, match="0-d"):
        decompose(torch.tensor(1.0), "2:4", dim=0)
    with pytest.raises(ValueError, match="floating point"):
        decompose(torch.arange(8), "2:4", dim=0)
    with pytest.raises(TypeError):
        decompose([1.0, 2.0], "2:4", dim=0)


def test_invalid_series_string_and_pattern():
    with pytest.raises(ValueError, match="'2/4'"):
        decompose(torch.randn(8), "2/4")
    with pytest.raises(ValueError, match="keep 5 of every 4"):
        nm_mask(torch.randn(8), 5, 4)
    with pytest.raises(ValueError):
        tasd_stats(torch.randn(8), "2:4+")
