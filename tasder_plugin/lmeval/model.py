"""``TASDLM``: lm-eval's HFLM with the model TASD-decomposed before any request is scored.

The model is loaded as ``--model hf`` loads it (or from a TASDER model config), profiled dense
on real text (Python's documentation, as ``data=pydocs``), decomposed in place by the plan and
costed on the hardware against dense, through the same path as the harness
(:func:`~tasder_plugin.pipeline.apply_and_cost_`). The cost goes into lm-eval's results (the
``config.tasder`` entry of its JSON) and is printed after its table.
"""

from __future__ import annotations

from pathlib import Path

import torch
from lm_eval.models.huggingface import HFLM
from torch import nn

from ..errors import ConfigError
from ..hardware import load_hardware
from ..models.adapters import HF_SUPPLY, build_model, hf_load_error
from ..models.named import model_config
from ..models.preprocessing import data_config, max_positions
from ..nn import ModelPlan, output_embedding_name
from ..pipeline import AppliedPlan, apply_and_cost_, cost_line
from ..profile import ModelProfile, profile_model
from ..profile.decode import decode_step
from ..profile.settings import costed_step
from .options import LMEvalOptions, split_model_args

__all__ = ["TASDLM", "configured_model", "cost_summaries"]

_SUMMARIES: list[str] = []  # one per TASDLM built in this process, for the command's epilogue


def cost_summaries() -> list[str]:
    """What each ``tasder`` model evaluated in this process costs, in words."""
    return list(_SUMMARIES)


class TASDLM(HFLM):
    """``--model tasder``: ``--model hf`` plus ``plan=`` or ``weights=``/``activations=``,
    ``hw=`` and the cost settings of :class:`~tasder_plugin.lmeval.options.LMEvalOptions`."""

    def __init__(self, pretrained=None, **kwargs) -> None:
        options, hf_args = split_model_args(kwargs)
        hw = load_hardware(options.hw)  # a bad preset fails before the model loads
        if options.tasder_model is not None:
            if pretrained is not None:
                raise ConfigError("model_args: give pretrained= or tasder_model=, not both")
            pretrained, hf_args["tokenizer"] = configured_model(options.tasder_model)
        if pretrained is None:
            raise ConfigError("model_args needs pretrained=<hub id or save_pretrained folder> "
                              "or tasder_model=<a TASDER model config, e.g. smollm2>")  # fmt: skip
        _init_hflm(self, pretrained, hf_args)
        model = self.model
        plan, kept = _plan(model, options)  # a plan for another model fails before the profile
        profile = _cost_profile(model, self.tokenizer, options)
        self.applied: AppliedPlan = apply_and_cost_(model, plan, hw, profile)
        self.tasder = _record(self.applied, options, hw.name, kept)
        _SUMMARIES.append(_summary(self.tasder))

    def get_model_info(self) -> dict:
        return {**super().get_model_info(), "tasder": self.tasder}


def _init_hflm(lm: HFLM, pretrained, hf_args: dict) -> None:
    """HFLM's own loading; a hub id that cannot be fetched is the project's one-line error."""
    try:
        HFLM.__init__(lm, pretrained=pretrained, **hf_args)
    except OSError as err:
        if not isinstance(pretrained, str):
            raise
        supply = HF_SUPPLY.replace("model.checkpoint=", "pretrained=")
        raise hf_load_error(err, pretrained, Path(pretrained).expanduser(), supply) from None


def configured_model(name: str):
    """(model, tokenizer) of the TASDER model config ``name``, built as the harness builds it."""
    config = model_config(name, "model_args tasder_model=")
    if not config.task.predicts_tokens:
        raise ConfigError(f"model_args tasder_model={name} is a {config.task.name} model; "
                          "lm-eval scores causal language models (e.g. smollm2)")  # fmt: skip
    model = build_model(config)
    return model, data_config(config, model)["tokenizer"]


def _plan(model: nn.Module, options: LMEvalOptions) -> tuple[ModelPlan, dict[str, str]]:
    """The plan, and the layers a uniform plan keeps dense (with the reason)."""
    if options.plan is not None:
        return ModelPlan.load(Path(options.plan).expanduser()).validate(model), {}
    if options.weights is None and options.activations is None:
        return ModelPlan.dense(model), {}
    head = output_embedding_name(model)
    kept = {}
    if options.dense_lm_head and head is not None:
        kept[head] = ("the output embedding stays dense, as in Wanda and SparseGPT "
                      "(dense_lm_head=false decomposes it)")  # fmt: skip
    plan = ModelPlan.uniform(model, options.weights, options.activations, ignore=tuple(kept))
    return plan, kept


def _text_tokens(tokenizer, count: int, why: str) -> torch.Tensor:
    """The first ``count`` tokens of Python's documentation text."""
    from ..data.token_stream import pydocs_text, tokenize

    ids = tokenize(tokenizer, pydocs_text())
    if len(ids) < count:
        raise ConfigError(f"{why} needs {count} tokens of text; Python's documentation gives "
                          f"{len(ids)} with this tokenizer")  # fmt: skip
    return ids[:count]


def _cost_profile(model: nn.Module, tokenizer, options: LMEvalOptions) -> ModelProfile:
    """The dense profile the cost is computed on: a prefill of ``stats_windows`` windows (the
    shapes of ``cost_batch``), or one real decode step at ``context`` tokens of cache."""
    device = next(model.parameters()).device
    settings = options.cost_settings()
    if settings.phase == "decode":
        count = settings.batch_size * (settings.context + 1)
        ids = _text_tokens(tokenizer, count, "phase=decode").view(1, -1).to(device)
        return profile_model(model, decode_step(model, [ids], settings.batch_size,
                                                settings.context))  # fmt: skip
    limit = max_positions(model)
    if limit is not None and options.seq_len > limit:
        raise ConfigError(f"model_args seq_len={options.seq_len} is longer than the model reads "
                          f"({limit} positions); set seq_len<={limit}")  # fmt: skip
    rows = max(options.stats_windows, settings.batch_size)
    ids = _text_tokens(tokenizer, rows * options.seq_len, "the prefill cost")
    example = {"input_ids": ids.view(rows, options.seq_len).to(device), "use_cache": False}
    return profile_model(model, example, batch_size=settings.batch_size)


def _plan_record(options: LMEvalOptions) -> dict:
    if options.plan is not None:
        return {"kind": "plan", "path": str(Path(options.plan).expanduser())}
    if options.weights is None and options.activations is None:
        return {"kind": "none"}
    series = {"weights": options.weights, "activations": options.activations}
    return {"kind": "uniform", **{k: str(v) if v else None for k, v in series.items()}}


def _record(applied: AppliedPlan, options: LMEvalOptions, hw: str, kept: dict) -> dict:
    """What lm-eval's results JSON holds under ``config.tasder``."""
    settings = options.cost_settings()
    cost = {"phase": settings.phase, "batch_size": settings.batch_size}
    if settings.phase == "decode":
        cost["context"] = settings.context
    else:
        cost.update(seq_len=options.seq_len, stats_windows=options.stats_windows)
    return {"hw": hw, "plan": _plan_record(options), "cost": cost, "kept_dense": kept,
            "bounds": applied.cost.bound_counts(), "metrics": applied.metrics()}  # fmt: skip


def _summary(record: dict) -> str:
    """Two lines, in the harness's words."""
    plan, cost = record["plan"], record["cost"]
    setting = ", ".join(f"{k}={v}" for k, v in plan.items() if v is not None)
    per = costed_step(cost["phase"], cost["batch_size"], cost.get("seq_len"), cost.get("context"))
    kept = f" | kept dense: {', '.join(record['kept_dense'])}" if record["kept_dense"] else ""
    return (f"tasder | hw {record['hw']} | plan {setting} | cost {per}{kept}\n"
            f"tasder | {cost_line(record['metrics'])}")  # fmt: skip
