"""Decompose every conv and linear weight of timm resnet50 (random init) and print one JSON object.

Side by side in one run: the library's fast path (`tasder_plugin.decompose`, with fresh outputs
and with reused `out=` buffers), a naive reference (pad, reshape into blocks, topk + scatter per
term, as plainly as possible), a `clone()` of the same tensors and a copy into existing buffers
(the memory-bound floors with and without allocating). Each
timing is the best of `--repeats` runs after one warm-up run, i.e. a process that decomposes
repeatedly: the library's large outputs then come from its output cache (memory released by
earlier outputs, already faulted in; tasder_plugin/tasd/outputs.py), torch's from glibc. The
first call on an empty output cache, which pays every first-touch page fault, is reported too.

    python benchmarks/decompose.py [--threads 2] [--repeats 9]
"""

from __future__ import annotations

import argparse
import json
import platform

import timm
import torch
import torch.nn.functional as F
from timing import best_of, timed

from tasder_plugin import TASDSeries, decompose
from tasder_plugin.tasd.kernel import kernel_name
from tasder_plugin.tasd.outputs import empty_output_cache, output_cache_available


def naive_decompose(x: torch.Tensor, series: TASDSeries, dim: int):
    """Reference TASD: per term, move dim last, zero-pad, topk per block, scatter a mask."""
    terms, residual = [], x
    for pattern in series:
        moved = residual.movedim(dim, -1)
        length = moved.shape[-1]
        padded = F.pad(moved, (0, (-length) % pattern.m))
        blocks = padded.reshape(-1, pattern.m)
        top = blocks.abs().topk(pattern.n, dim=-1).indices
        mask = torch.zeros_like(blocks, dtype=torch.bool).scatter_(-1, top, True)
        mask = mask.reshape(padded.shape)[..., :length].movedim(-1, dim)
        term = residual * mask
        terms.append(term)
        residual = residual - term
    return terms, residual


def blocks_of(x: torch.Tensor, m: int, dim: int) -> torch.Tensor:
    moved = x.movedim(dim, -1)
    return F.pad(moved, (0, (-moved.shape[-1]) % m)).reshape(-1, m)


def same_kept_magnitudes(fast_terms, naive_terms, series: TASDSeries, dim: int) -> bool:
    """Both keep the same magnitudes in every block (positions may differ only among ties:
    the library keeps the lower index, topk makes no promise)."""
    return all(
        torch.equal(
            blocks_of(a, p.m, dim).abs().sort(dim=-1).values,
            blocks_of(b, p.m, dim).abs().sort(dim=-1).values,
        )
        for a, b, p in zip(fast_terms, naive_terms, series)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = timm.create_model("resnet50", pretrained=False)
    weights = [
        mod.weight.detach()
        for mod in model.modules()
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear))
    ]
    numel = sum(w.numel() for w in weights)
    result = {
        "model": "resnet50",
        "tensors": len(weights),
        "values": numel,
        "threads": args.threads,
        "repeats": args.repeats,
        "fast_path": kernel_name(),
        "output_cache": output_cache_available(),
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    clone_s = best_of(lambda: [w.clone() for w in weights], args.repeats)
    result["clone_s"] = clone_s
    result["clone_values_per_s"] = numel / clone_s
    # The memory bound without allocation: copying into existing buffers (compare with the
    # fast path into caller-owned buffers below).
    copies = [torch.empty_like(w) for w in weights]
    copy_s = best_of(lambda: [c.copy_(w) for c, w in zip(copies, weights)], args.repeats)
    result["copy_into_buffers_s"] = copy_s
    for text in ("2:4", "2:4+1:8"):
        series = TASDSeries.parse(text)
        empty_output_cache()
        first_s = timed(lambda s=series: [decompose(w, s, dim=1) for w in weights])
        fast_s = best_of(lambda s=series: [decompose(w, s, dim=1) for w in weights], args.repeats)
        naive_s = best_of(
            lambda s=series: [naive_decompose(w, s, dim=1) for w in weights], args.repeats
        )
        # Same work into caller-owned buffers (decompose(out=...)): what a loop that decomposes
        # repeatedly pays once its buffers exist; fresh outputs also pay their first-touch faults.
        buffers = [([torch.empty_like(w) for _ in series], torch.empty_like(w)) for w in weights]
        reused_s = best_of(
            lambda s=series, bufs=buffers: [
                decompose(w, s, 1, out=b) for w, b in zip(weights, bufs)
            ],
            args.repeats,
        )
        # The speed-up compares equal work: both keep the same values.
        agree = all(
            same_kept_magnitudes(
                decompose(w, series, 1)[0], naive_decompose(w, series, 1)[0], series, 1
            )
            for w in weights
        )
        result[text] = {
            "fast_s": fast_s,
            "naive_s": naive_s,
            "fast_values_per_s": numel / fast_s,
            "naive_values_per_s": numel / naive_s,
            "speedup_vs_naive": naive_s / fast_s,
            "fraction_of_clone_throughput": clone_s / fast_s,
            "fast_first_call_empty_cache_s": first_s,
            "fast_reused_outputs_s": reused_s,
            "speedup_vs_naive_reused_outputs": naive_s / reused_s,
            "fraction_of_copy_throughput_reused_outputs": copy_s / reused_s,
            "same_kept_values_as_naive": agree,
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
