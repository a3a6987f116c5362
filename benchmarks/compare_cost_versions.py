"""The same uniform plans costed by this checkout and by another one (e.g. before a cost model
change): speed-up and EDP reduction vs dense, per model, preset and plan, side by side.

Models: timm resnet50 (random weights, 224x224, cost only) and the reference models on digits
(``reference_resnet``, ``reference_vit``, one evaluation image). Batch 1 in both versions; only
APIs both versions have are used (profile_model, ModelPlan.uniform, estimate_cost). Each version
runs in its own interpreter with its checkout first on ``sys.path``. Prints a Markdown table,
then one JSON object.

    git worktree add /tmp/old <commit>
    python benchmarks/compare_cost_versions.py --old /tmp/old
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
PRESETS = ("2of4", "vegeta", "flex8")
PLANS = {"2:4 W": {"weights": "2:4"}, "2:4 A": {"activations": "2:4"}}

WORKER = r"""
import json, sys
import timm, torch
from tasder_plugin import ModelPlan, estimate_cost, profile_model
from tasder_plugin.data.digits import digits_splits
from tasder_plugin.models import build_reference
presets, plans = json.loads(sys.argv[1]), json.loads(sys.argv[2])
torch.manual_seed(0)
digit = digits_splits()["eval"].tensors[0][:1]
models = {
    "resnet50": (timm.create_model("resnet50", pretrained=False), torch.randn(1, 3, 224, 224)),
    "reference_resnet": (build_reference("reference_resnet"), digit),
    "reference_vit": (build_reference("reference_vit"), digit),
}
rows = []
for name, (model, x) in models.items():
    model.eval()
    profile = profile_model(model, x)
    for hw in presets:
        dense = estimate_cost(profile, ModelPlan.dense(model), hw)
        for label, kwargs in plans.items():
            vs = estimate_cost(profile, ModelPlan.uniform(model, **kwargs), hw).vs(dense)
            rows.append([name, hw, label, vs.speedup, vs.edp_reduction])
print(json.dumps(rows))
"""


def run(checkout: Path) -> list:
    code = f"import sys; sys.path.insert(0, {str(checkout)!r})\n" + WORKER
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(PRESETS), json.dumps(PLANS)],
        capture_output=True, text=True, check=True, cwd=checkout,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="the other checkout")
    args = parser.parse_args()
    old, new = run(args.old.resolve()), run(HERE)
    print("| model | hw | plan | speed-up old → new | EDP reduction old → new |")
    print("|---|---|---|---|---|")
    for (model, hw, plan, s0, e0), (*_, s1, e1) in zip(old, new, strict=True):
        print(f"| {model} | {hw} | {plan} | {s0:.2f}x → {s1:.2f}x | {e0:.1%} → {e1:.1%} |")
    print(json.dumps({"old": str(args.old), "rows_old": old, "rows_new": new}))


if __name__ == "__main__":
    main()
