"""The output cache: large CPU outputs reuse released memory, bounded, and stay ordinary tensors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading

import pytest
import torch

from tasder_plugin import approximate, decompose, nm_mask
from tasder_plugin.tasd.outputs import (
    empty_output_cache,
    output_cache_available,
    output_cache_info,
)
from tests.warm_python import session_python

from .reference_tasd import reference_decompose, reference_mask

pytestmark = pytest.mark.skipif(
    not output_cache_available(), reason="output cache extension not built"
)

LARGE = (512, 256)  # 512 KiB of fp32: above the cache threshold


def _ties(shape) -> torch.Tensor:
    """Few distinct magnitudes, both signs: many ties inside blocks."""
    gen = torch.Generator().manual_seed(3)
    return torch.randint(-3, 4, shape, generator=gen).float()


def test_released_output_is_handed_out_again():
    x = torch.randn(LARGE)
    empty_output_cache()
    terms, residual = decompose(x, "2:4+1:8", dim=1)
    pointers = {t.data_ptr() for t in terms} | {residual.data_ptr()}
    before = output_cache_info()
    del terms, residual
    assert output_cache_info()["idle_blocks"] == before["idle_blocks"] + 3
    terms, residual = decompose(x, "2:4+1:8", dim=1)
    after = output_cache_info()
    assert after["hits"] == before["hits"] + 3
    assert {t.data_ptr() for t in terms} | {residual.data_ptr()} == pointers


def test_reused_memory_gives_the_same_bits_as_the_reference():
    x = _ties(LARGE)
    for _ in range(3):  # the second and third rounds write into dirty reused blocks
        terms, residual = decompose(x, "2:4+1:8", dim=0)
        ref_terms, ref_residual = reference_decompose(x, [(2, 4), (1, 8)], 0)
        for got, want in zip([*terms, residual], [*ref_terms, ref_residual]):
            assert torch.equal(got, want)
        misses = output_cache_info()["misses"]
        wide = _ties((1024, 512))  # a bool mask of 512 KiB: cached as well
        mask = nm_mask(wide, 1, 8, dim=1)
        assert mask.dtype == torch.bool and mask.shape == wide.shape
        assert torch.equal(mask, reference_mask(wide, 1, 8, 1))
        assert output_cache_info()["misses"] <= misses + 1  # the mask's block, first round only
        assert torch.equal(approximate(x, "2:4+2:4", dim=1), x)


def test_small_outputs_bypass_the_cache():
    before = output_cache_info()
    decompose(torch.randn(8, 16), "2:4", dim=1)
    after = output_cache_info()
    assert (after["hits"], after["misses"]) == (before["hits"], before["misses"])


def test_empty_output_cache_frees_idle_blocks():
    decompose(torch.randn(LARGE), "2:4", dim=1)  # outputs released at once
    assert output_cache_info()["idle_bytes"] > 0
    released = empty_output_cache()
    assert released >= 2 * torch.Size(LARGE).numel() * 4
    assert output_cache_info()["idle_bytes"] == 0 and empty_output_cache() == 0


def test_cached_outputs_behave_like_tensors():
    x = torch.randn(LARGE)
    terms, residual = decompose(x, "2:4", dim=1)
    term = terms[0]
    assert term.is_contiguous() and not term.requires_grad and term.grad_fn is None
    term.mul_(2).add_(residual)  # in place
    buffer = io.BytesIO()
    torch.save(term, buffer)
    buffer.seek(0)
    assert torch.equal(torch.load(buffer), term)
    assert torch.equal(term.clone().resize_(4), term.flatten()[:4])  # copies resize as usual
    with pytest.raises(RuntimeError, match="not resizable"):
        term.resize_(term.numel() + 1)


def test_output_released_on_another_thread_returns_to_the_cache():
    empty_output_cache()
    outputs = [approximate(torch.randn(LARGE), "2:4", dim=1)]
    worker = threading.Thread(target=outputs.clear)
    worker.start()
    worker.join()
    assert output_cache_info()["idle_blocks"] == 1


def _run(code: str, **env) -> subprocess.CompletedProcess:
    """A fresh import of tasder_plugin (the warm interpreter preloads torch, not the project)."""
    return subprocess.run(
        [session_python(), "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


@pytest.mark.slow
def test_cache_limit_and_switch_come_from_the_environment():
    code = (
        "import torch; from tasder_plugin import decompose;"
        "from tasder_plugin.tasd.outputs import output_cache_info, output_cache_available;"
        "decompose(torch.randn(1024, 1024), '2:4+1:8', dim=1);"
        "print(output_cache_available(), output_cache_info()['idle_bytes'])"
    )
    small = _run(code, TASDER_OUTPUT_CACHE_MB="5")
    assert small.returncode == 0, small.stderr
    available, idle = small.stdout.split()
    assert available == "True" and 0 < int(idle) <= 5 << 20  # one 4 MiB block of three

    off = _run(code, TASDER_OUTPUT_CACHE_MB="0")
    assert off.returncode == 0 and off.stdout.split() == ["False", "0"], off.stderr

    bad = _run(code, TASDER_OUTPUT_CACHE_MB="lots")
    assert bad.returncode != 0
    assert "TASDER_OUTPUT_CACHE_MB='lots': expected a number of MiB >= 0" in bad.stderr


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_forked_child_decomposes_with_its_own_cache():
    # One thread in the child, as DataLoader workers set: with more, torch's own OpenMP ops hang
    # in a forked child once the parent ran a parallel region (a torch/libgomp limitation).
    code = (
        "import multiprocessing as mp, torch; from tasder_plugin import decompose\n"
        "def child(q):\n"
        "    torch.set_num_threads(1)\n"
        "    t, r = decompose(torch.ones(512, 256), '2:4', dim=1); q.put(float(t[0].sum()))\n"
        "if __name__ == '__main__':\n"
        "    keep = decompose(torch.randn(512, 256), '2:4', dim=1)\n"
        "    ctx = mp.get_context('fork'); q = ctx.Queue()\n"
        "    p = ctx.Process(target=child, args=(q,))\n"
        "    p.start(); print(q.get(timeout=60)); p.join(60); print(p.exitcode)\n"
    )
    run = _run(code)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [str(512 * 256 / 2), "0"]
