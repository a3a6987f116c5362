"""Property tests of the TASD core against an independent reference (tests/unit/reference_tasd)."""

import os

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tasder_plugin import TASDSeries, approximate, decompose, nm_mask
from tasder_plugin.tasd import kernel

from .reference_tasd import reference_decompose, reference_mask

DTYPES = [torch.float32, torch.float16, torch.bfloat16]


@st.composite
def patterns(draw):
    m = draw(st.integers(1, 9))
    return draw(st.integers(1, m)), m


@st.composite
def cases(draw):
    ndim = draw(st.integers(1, 5))
    shape = draw(st.lists(st.integers(1, 7 if ndim < 4 else 4), min_size=ndim, max_size=ndim))
    dim = draw(st.integers(-ndim, ndim - 1))
    dtype = draw(st.sampled_from(DTYPES))
    series = draw(st.lists(patterns(), min_size=1, max_size=3))
    seed = draw(st.integers(0, 2**31 - 1))
    layout = draw(st.sampled_from(["contiguous", "transposed", "strided"]))
    ties = draw(st.sampled_from(["none", "rounded", "zeros"]))
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen) * 3
    if ties == "rounded":
        x = x.round()  # many equal magnitudes, including +-0
    elif ties == "zeros":
        x = x * (torch.rand(shape, generator=gen) < 0.3)
    x = x.to(dtype)
    if layout == "transposed" and ndim >= 2:
        x = x.transpose(0, -1).contiguous().transpose(0, -1)
    elif layout == "strided":
        x = torch.cat([x, x], dim=dim)[
            tuple(slice(None, None, 2) if d == dim % ndim else slice(None) for d in range(ndim))
        ]
    return x, series, dim


def as_series(pairs):
    return TASDSeries.parse("+".join(f"{n}:{m}" for n, m in pairs))


def bits(t):
    return t.contiguous().view(torch.int16 if t.element_size() == 2 else torch.int32)


def assert_bit_equal(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert torch.equal(bits(a), bits(b))


def per_block_nnz_max(t, m, dim):
    moved = (t != 0).movedim(dim, -1).to(torch.int64)
    padded = torch.nn.functional.pad(moved, (0, (-moved.shape[-1]) % m))
    return int(padded.reshape(-1, m).sum(-1).max()) if padded.numel() else 0


@settings(max_examples=150, deadline=None)
@given(cases())
def test_decompose_matches_reference_and_invariants(case):
    x, pairs, dim = case
    terms, residual = decompose(x, as_series(pairs), dim=dim)
    ref_terms, ref_residual = reference_decompose(x, pairs, dim)
    for term, ref in zip(terms, ref_terms):
        assert_bit_equal(term, ref)  # ties: lower index wins, bit for bit
    assert_bit_equal(residual, ref_residual)

    total = residual.clone()
    for term in terms:
        total = total + term
    assert torch.equal(total, x)  # exact reconstruction
    for (n, m), term in zip(pairs, terms):
        assert per_block_nnz_max(term, m, dim) <= n  # tail blocks included
    supports = [t != 0 for t in terms] + [residual != 0]
    for i in range(len(supports)):
        for j in range(i + 1, len(supports)):
            assert not (supports[i] & supports[j]).any()  # disjoint support
    for t in terms + [residual]:
        assert t.dtype == x.dtype and t.device == x.device and t.shape == x.shape


@settings(max_examples=60, deadline=None)
@given(cases())
def test_no_dropped_value_beats_a_kept_one(case):
    x, pairs, dim = case
    n, m = pairs[0]
    keep = nm_mask(x, n, m, dim)
    assert torch.equal(keep, reference_mask(x, n, m, dim))
    mag = x.abs().double().movedim(dim, -1)
    keep_m = keep.movedim(dim, -1)
    pad = (-mag.shape[-1]) % m
    mag_b = torch.nn.functional.pad(mag, (0, pad)).reshape(-1, m)
    keep_b = torch.nn.functional.pad(keep_m, (0, pad)).reshape(-1, m)
    kept_min = torch.where(keep_b, mag_b, torch.inf).min(-1).values
    dropped_max = torch.where(keep_b, -torch.inf, mag_b).max(-1).values
    assert (dropped_max <= kept_min).all()


@pytest.mark.skipif(not kernel.kernel_available(), reason="native kernel not built")
@settings(max_examples=80, deadline=None)
@given(cases())
def test_native_kernel_and_torch_path_are_bit_identical(case):
    x, pairs, dim = case
    fast_terms, fast_res = decompose(x, as_series(pairs), dim=dim)
    os.environ["TASDER_NO_KERNEL"] = "1"
    try:
        slow_terms, slow_res = decompose(x, as_series(pairs), dim=dim)
    finally:
        del os.environ["TASDER_NO_KERNEL"]
    for a, b in zip(fast_terms + [fast_res], slow_terms + [slow_res]):
        assert_bit_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES + [torch.float64])
@pytest.mark.parametrize("text", ["2:4+2:4", "4:4", "1:2+1:2", "1:4+1:4+2:4"])
def test_exact_series_reproduce_the_input(text, dtype):
    x = torch.randn(6, 16, 3).to(dtype)
    assert torch.equal(approximate(x, text, dim=1), x)
    terms, residual = decompose(x, text, dim=1)
    assert not residual.any()


@pytest.mark.parametrize("fill", [0.0, 1.5, -2.0])
def test_ties_go_to_the_lower_index(fill):
    x = torch.full((3, 10), fill)
    mask = nm_mask(x, 2, 4, dim=1)
    expected = torch.tensor([1, 1, 0, 0, 1, 1, 0, 0, 1, 1], dtype=torch.bool)
    assert torch.equal(mask, expected.expand(3, 10))
    # +0 and -0 have equal magnitude: still the lower index
    signed_zeros = torch.tensor([0.0, -0.0, 0.0, -0.0])
    assert nm_mask(signed_zeros, 1, 4).tolist() == [True, False, False, False]


def test_tail_block_keeps_at_most_n():
    x = torch.arange(1.0, 8.0)  # 7 values: one block of 4, a tail of 3
    assert nm_mask(x, 2, 4).tolist() == [False, False, True, True, False, True, True]
    assert nm_mask(x[:1], 2, 4).tolist() == [True]


def test_repeated_calls_are_bit_identical():
    x = torch.randn(64, 96, 3, 3).round()
    first = decompose(x, "2:4+1:8", dim=1)
    for _ in range(3):
        again = decompose(x, "2:4+1:8", dim=1)
        for a, b in zip(first[0] + [first[1]], again[0] + [again[1]]):
            assert_bit_equal(a, b)


def test_no_autograd_graph_is_kept():
    w = torch.randn(8, 16, requires_grad=True)
    terms, residual = decompose(w, "2:4+1:8", dim=1)
    for t in terms + [residual, approximate(w, "2:4", 1), nm_mask(w, 2, 4, 1)]:
        assert not t.requires_grad and t.grad_fn is None


def test_large_tensor_uses_every_thread_and_matches_reference():
    x = torch.randn(512, 1030)  # > parallel threshold, with a tail block
    terms, residual = decompose(x, "2:4+1:8", dim=1)
    ref_terms, ref_residual = reference_decompose(x, [(2, 4), (1, 8)], 1)
    for a, b in zip(terms + [residual], ref_terms + [ref_residual]):
        assert_bit_equal(a, b)


def test_dense_series_is_one_dense_pass():
    x = torch.randn(4, 8)
    terms, residual = decompose(x, "dense", dim=1)
    assert len(terms) == 1 and torch.equal(terms[0], x) and not residual.any()
    assert terms[0].data_ptr() != x.data_ptr()


def test_series_with_large_lcm_falls_back_to_torch_path_exactly():
    x = torch.randn(4, 300).round()
    pairs = [(3, 17), (2, 19)]  # lcm 323 > kernel limit
    terms, residual = decompose(x, as_series(pairs), dim=1)
    ref_terms, ref_residual = reference_decompose(x, pairs, 1)
    for a, b in zip(terms + [residual], ref_terms + [ref_residual]):
        assert_bit_equal(a, b)


@settings(max_examples=80, deadline=None)
@given(cases())
def test_approximate_is_the_bitwise_sum_of_the_terms(case):
    x, pairs, dim = case
    terms, _ = decompose(x, as_series(pairs), dim=dim)
    total = bits(terms[0])
    for t in terms[1:]:
        total = total | bits(t)  # bit patterns are disjoint too: a kept -0.0 stays -0.0
    total = total.view(x.dtype)
    for env in ("0", "1"):
        os.environ["TASDER_NO_KERNEL"] = env
        try:
            assert_bit_equal(approximate(x, as_series(pairs), dim=dim), total)
        finally:
            del os.environ["TASDER_NO_KERNEL"]


def test_approximate_into_a_reused_buffer():
    x = torch.randn(4, 8, 6)
    out = torch.full_like(x, 7.0)
    result = approximate(x, "2:4+1:8", dim=1, out=out)
    assert result is out and torch.equal(out, approximate(x, "2:4+1:8", dim=1))
    with pytest.raises(ValueError, match="must match"):
        approximate(x, "2:4", dim=1, out=torch.empty(4, 8))
    with pytest.raises(ValueError, match="contiguous"):
        approximate(x, "2:4", dim=1, out=torch.empty(6, 8, 4).transpose(0, 2))
    with pytest.raises(ValueError, match="share memory"):
        approximate(x, "2:4", dim=1, out=x)


def test_decompose_into_reused_buffers():
    x = torch.randn(4, 16).round()
    fresh_terms, fresh_res = decompose(x, "2:4+1:8", dim=1)
    buffers = ([torch.full_like(x, 9.0), torch.full_like(x, 9.0)], torch.full_like(x, 9.0))
    terms, residual = decompose(x, "2:4+1:8", dim=1, out=buffers)
    assert terms[0] is buffers[0][0] and residual is buffers[1]
    for a, b in zip(terms + [residual], fresh_terms + [fresh_res]):
        assert_bit_equal(a, b)
    with pytest.raises(ValueError, match="2 term buffer"):
        decompose(x, "2:4+1:8", dim=1, out=([torch.empty_like(x)], torch.empty_like(x)))
