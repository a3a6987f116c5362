"""Every code path of the native kernel, every build, bit for bit against the reference.

The property tests use small shapes; the kernel picks its path by layout and size (register
"runs" for contiguous blocks, register "rows" for long contiguous lanes, tiles otherwise, scalar
row tails), so these cases are shaped to reach each path, with ties and non-finite values.
"""

from __future__ import annotations

import importlib

import pytest
import torch

from tasder_plugin import TASDSeries, approximate, decompose
from tasder_plugin.tasd import kernel

from .reference_tasd import reference_decompose


def _builds():
    found = []
    for name in ("_nmkernel", "_nmkernel_avx2"):
        try:
            found.append(importlib.import_module(f"tasder_plugin.tasd.{name}"))
        except ImportError:
            continue
    return found


BUILDS = _builds()
pytestmark = pytest.mark.skipif(not BUILDS, reason="native kernel not built")

# (shape, dim): which path each reaches for 4-byte values (8 lanes; 16 for 2-byte, 4 for 8-byte)
LAYOUTS = {
    "runs": ((24, 136), 1),  # Q == 1: whole vectors of blocks, then a tile rest and a row tail
    "rows": ((3, 16, 6, 8), 1),  # Q = 48: long contiguous lanes
    "rows_overlap": ((2, 32, 6, 6), 1),  # Q = 36: the last vector overlaps the one before
    "tile_taps": ((16, 40, 3, 3), 1),  # Q = 9: tiles of whole 3x3 runs
    "tile_strided": ((40, 24), 0),  # blocks across rows: tiles along q
}
SERIES = ["2:4", "1:8", "2:4+1:8", "3:16+2:4", "1:2+1:2+1:4", "5:12+1:3"]
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64]


def _values(shape, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(-3, 4, shape, generator=gen).double()  # many ties, +-0 included
    x += (torch.rand(shape, generator=gen) < 0.5) * torch.randn(shape, generator=gen)
    return x.to(dtype)


def _bits(t):
    view = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]
    return t.contiguous().view(view)


@pytest.fixture(params=BUILDS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def build(request, monkeypatch):
    monkeypatch.setattr(kernel, "_nmkernel", request.param)
    return request.param


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_path_matches_the_reference(build, layout, dtype):
    shape, dim = LAYOUTS[layout]
    for seed, text in enumerate(SERIES):
        x = _values(shape, dtype, seed)
        series = TASDSeries.parse(text)
        terms, residual = decompose(x, series, dim)
        ref_terms, ref_residual = reference_decompose(x, [(p.n, p.m) for p in series], dim)
        for got, want in zip([*terms, residual], [*ref_terms, ref_residual]):
            assert torch.equal(_bits(got), _bits(want)), (layout, text)
        assert torch.equal(_bits(approximate(x, series, dim)), _bits(x - ref_residual))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_path_counts_each_non_finite_value_once(build, layout):
    shape, dim = LAYOUTS[layout]
    x = torch.randn(shape)
    flat = x.view(-1)
    flat[::7] = float("nan")  # lands in overlapping lanes, tiles and tails alike
    flat[3::11] = float("inf")
    expected = int((~torch.isfinite(x)).sum())
    with pytest.raises(ValueError, match=f"contains {expected} NaN/Inf value"):
        decompose(x, "2:4+1:8", dim)
