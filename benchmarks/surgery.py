"""Cost of TASD surgery on timm resnet50 (random init), printed as one JSON object.

Measured side by side in one run, in interleaved rounds (best of ``--repeats`` each):
dense forward; forward with TASD-W ``2:4+1:8`` folded into the weights; forward with TASD-A
``2:4`` on the input of every eligible conv; a control: the dense weights copied into fresh
memory (where folded weights live); the time ``apply_tasd_`` takes for ``2:4+1:8``
weights; and, for reference, the core fast path (``decompose``) on the same weights. Next to
the ratios of the best times, the median over rounds of each round's own ratio (robust to a
machine whose speed drifts between rounds).

The allocator: a batch-32 ResNet-50 forward allocates ~100 MB activations that glibc maps and
unmaps on every call, and in a VM the page faults are ~40% of the forward and vary from call to
call (measured: 2.9 s per forward, 1m43s of system time per run, vs 1.7 s and 2 s). The script
therefore re-runs itself once with glibc's heap kept (``GLIBC_TUNABLES`` mmap_max=0, a large
trim_threshold), the same for every setting, unless GLIBC_TUNABLES is already set;
``--default-allocator`` measures without it.

    python benchmarks/surgery.py [--threads 2] [--batch 32] [--repeats 5] [--default-allocator]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from contextlib import contextmanager

import timm
import torch
from timing import best_of, timed

from tasder_plugin import ModelPlan, apply_tasd_, decompose, remove_tasd_
from tasder_plugin.nn import layer_kind
from tasder_plugin.tasd.kernel import kernel_name

# glibc keeps freed memory in its heap: no mmap per allocation, no trimming back to the kernel.
KEEP_HEAP = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--default-allocator", action="store_true")
    args = parser.parse_args()
    if not args.default_allocator and "GLIBC_TUNABLES" not in os.environ:  # a user's own wins
        env = {**os.environ, "GLIBC_TUNABLES": KEEP_HEAP}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = timm.create_model("resnet50", pretrained=False).eval()
    images = torch.randn(args.batch, 3, 224, 224)

    def forward():
        with torch.inference_mode():
            model(images)

    weight_plan = ModelPlan.uniform(model, weights="2:4+1:8")
    convs = [n for n, m in model.named_modules() if (k := layer_kind(m)) and k.op == "conv2d"]
    act_plan = ModelPlan.uniform(model, activations="2:4", targets=convs)

    folded = [r.fqn for r in apply_tasd_(model, weight_plan) if r.weights is not None]
    remove_tasd_(model)
    act_reports = apply_tasd_(model, act_plan)
    remove_tasd_(model)

    # Interleaved rounds, best of each: a drifting machine speed hits all three alike. Each
    # setting gets one untimed forward first in every round (steady state, not first touch).
    # Control: the same dense weights copied into fresh memory, as TASD-W's folded weights are.
    times = {"dense": [], "tasd_w": [], "tasd_a": [], "dense_copied": []}
    for _ in range(args.repeats):
        forward()
        times["dense"].append(timed(forward))
        for key, plan in (("tasd_w", weight_plan), ("tasd_a", act_plan)):
            apply_tasd_(model, plan)
            forward()
            times[key].append(timed(forward))
            remove_tasd_(model)
        with copied_weights(model, folded):
            forward()
            times["dense_copied"].append(timed(forward))
    dense_s, tasd_w_s, tasd_a_s, copied_s = (
        min(times[k]) for k in ("dense", "tasd_w", "tasd_a", "dense_copied")
    )

    apply_times = []
    for _ in range(args.repeats + 2):
        apply_times.append(timed(lambda: apply_tasd_(model, weight_plan)))
        remove_tasd_(model)
    apply_s = min(apply_times)
    # The core fast path on exactly the weights apply_tasd_ folds (the stem conv stays dense).
    same = [(model.get_submodule(n).weight.detach(), layer_kind_dim(model, n)) for n in folded]
    decompose_s = best_of(lambda: [decompose(w, "2:4+1:8", d) for w, d in same], args.repeats + 2)

    result = {
        "model": "resnet50",
        "batch": args.batch,
        "image_size": 224,
        "threads": args.threads,
        "repeats": args.repeats,
        "tasd_path": kernel_name(),
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", "default"),
        "dense_forward_s": dense_s,
        "tasd_w_2:4+1:8_forward_s": tasd_w_s,
        "tasd_a_2:4_forward_s": tasd_a_s,
        "tasd_w_layers": len(folded),
        "tasd_a_layers": sum(r.activations is not None for r in act_reports),
        "apply_tasd_2:4+1:8_s": apply_s,
        "decompose_2:4+1:8_same_weights_s": decompose_s,
        "dense_copied_weights_forward_s": copied_s,
        "ratio_tasd_w_forward_to_dense": tasd_w_s / dense_s,
        "ratio_tasd_w_forward_to_dense_copied_weights": tasd_w_s / copied_s,
        "ratio_tasd_a_forward_to_dense": tasd_a_s / dense_s,
        "median_round_ratio_tasd_w_to_dense": median_ratio(times, "tasd_w", "dense"),
        "median_round_ratio_dense_copied_to_dense": median_ratio(times, "dense_copied", "dense"),
        "median_round_ratio_tasd_a_to_dense": median_ratio(times, "tasd_a", "dense"),
        "ratio_apply_to_decompose": apply_s / decompose_s,
    }
    print(json.dumps(result, indent=2))


def median_ratio(times: dict[str, list[float]], key: str, base: str) -> float:
    return statistics.median(t / b for t, b in zip(times[key], times[base]))


@contextmanager
def copied_weights(model, names):
    """Dense weights, copied into freshly allocated tensors for the duration of the block."""
    originals = {n: model.get_submodule(n).weight.data for n in names}
    for n, w in originals.items():
        model.get_submodule(n).weight.data = w.clone()
    try:
        yield
    finally:
        for n, w in originals.items():
            model.get_submodule(n).weight.data = w


def layer_kind_dim(model, name: str) -> int:
    return layer_kind(model.get_submodule(name)).weight_dim


if __name__ == "__main__":
    main()
