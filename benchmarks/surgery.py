"""Cost of TASD surgery on timm resnet50 (random init), printed as one JSON object.

Measured side by side in one run, in interleaved rounds (best of ``--repeats`` each):
dense forward; forward with TASD-W ``2:4+1:8`` folded into the weights; forward with TASD-A
``2:4`` on the input of every eligible conv; a control: the dense weights copied into fresh
memory (where folded weights live); the time ``apply_tasd_`` takes for ``2:4+1:8``
weights; and, for reference, the core fast path (``decompose``) on the same weights.

    python benchmarks/surgery.py [--threads 2] [--batch 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
from contextlib import contextmanager

import timm
import torch
from timing import best_of, timed

from tasder_plugin import ModelPlan, apply_tasd_, decompose, remove_tasd_
from tasder_plugin.nn import layer_kind
from tasder_plugin.tasd.kernel import kernel_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
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
        "ratio_apply_to_decompose": apply_s / decompose_s,
    }
    print(json.dumps(result, indent=2))


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
