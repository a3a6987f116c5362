"""Host throughput of a causal LM under TASD, in tokens per second, printed as one JSON object.

SmolLM2-135M (``model=smollm2``, offline) on Python's documentation text, measured side by side
in one run, in interleaved rounds (best of ``--repeats`` each): dense; TASD-W ``2:4+2:8`` on
every weight GEMM but ``lm_head`` (folded into the weights, so the forward is a dense one on
other numbers); TASD-A ``2:4`` on the input of every such GEMM (decomposed on every call). Two
phases: prefill (``--batch`` windows of ``--seq-len`` tokens, one forward) and decode (greedy
generation of ``--new-tokens`` tokens after a ``--prompt``-token prompt, with the KV cache).
Also the time ``apply_tasd_`` of the TASD-W plan takes (issue: under 3 s). Ratios are tokens/s
of a setting over dense's (below 1: slower), of the best times and, robust to a drifting machine,
the median of each round's own ratio.

These are the speeds of *evaluating* the decomposed model on this CPU (what a perplexity or
lm-eval run costs here), not of the accelerator: its speed-up is the cost model's (``hw/*``).

    python benchmarks/lm_tokens.py [--threads 2] [--seq-len 512] [--batch 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics

import torch
from timing import timed

from tasder_plugin import ModelPlan, apply_tasd_, remove_tasd_
from tasder_plugin.data.token_stream import pydocs_text, tokenize, windows
from tasder_plugin.lmeval.model import configured_model
from tasder_plugin.nn import output_embedding_name

SETTINGS = ("dense", "tasd_w", "tasd_a")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, tokenizer = configured_model("smollm2")
    stream = tokenize(tokenizer, pydocs_text())
    batch = windows(stream, args.seq_len)[: args.batch]
    prompt = stream[: args.prompt].view(1, -1)
    head = (output_embedding_name(model),)
    plans = {
        "dense": None,
        "tasd_w": ModelPlan.uniform(model, weights="2:4+2:8", ignore=head),
        "tasd_a": ModelPlan.uniform(model, activations="2:4", ignore=head),
    }

    def prefill():
        with torch.inference_mode():
            model(input_ids=batch, use_cache=False)

    def decode():
        with torch.inference_mode():
            out = model.generate(
                prompt, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                do_sample=False, pad_token_id=tokenizer.eos_token_id,
            )  # fmt: skip
        assert out.shape[1] == args.prompt + args.new_tokens

    times = {f"{phase}_{s}": [] for phase in ("prefill", "decode") for s in SETTINGS}
    for _ in range(args.repeats):  # interleaved: a drifting machine speed hits all alike
        for setting, plan in plans.items():
            if plan is not None:
                apply_tasd_(model, plan)
            for phase, run in (("prefill", prefill), ("decode", decode)):
                run()  # untimed: steady state, not first touch
                times[f"{phase}_{setting}"].append(timed(run))
            if plan is not None:
                remove_tasd_(model)

    apply_s = []
    for _ in range(args.repeats):
        apply_s.append(timed(lambda: apply_tasd_(model, plans["tasd_w"])))
        remove_tasd_(model)

    tokens = {"prefill": args.batch * args.seq_len, "decode": args.new_tokens}
    result = {
        "model": "smollm2",
        "threads": args.threads,
        "repeats": args.repeats,
        "prefill_tokens": tokens["prefill"],
        "decode_prompt": args.prompt,
        "decode_new_tokens": args.new_tokens,
        "apply_tasd_w_2:4+2:8_s": min(apply_s),
    }
    for phase in ("prefill", "decode"):
        for setting in SETTINGS:
            best = min(times[f"{phase}_{setting}"])
            result[f"{phase}_{setting}_tokens_per_s"] = tokens[phase] / best
        for setting in SETTINGS[1:]:
            best = min(times[f"{phase}_dense"]) / min(times[f"{phase}_{setting}"])
            rounds = statistics.median(
                d / t for d, t in zip(times[f"{phase}_dense"], times[f"{phase}_{setting}"])
            )
            result[f"{phase}_ratio_{setting}_to_dense"] = best
            result[f"{phase}_median_round_ratio_{setting}_to_dense"] = rounds
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
