"""One harness run: ``evaluate(cfg) -> (metrics, objects)``.

config -> model -> data -> profile (one batch) -> plan -> dense accuracy (cached) -> apply TASD
-> cost on the hardware and on dense -> Lightning validate -> results.json.
Tests call :func:`evaluate` directly; ``python -m evaluation`` is a thin shell around it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from pathlib import Path

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig, OmegaConf

from tasder_plugin import ModelPlan, apply_tasd_, estimate_cost, profile_model, remove_tasd_
from tasder_plugin.data.loaders import EvalData, build_data
from tasder_plugin.hardware import hardware_from_dict
from tasder_plugin.models.adapters import ModelConfig, build_model
from tasder_plugin.models.preprocessing import data_config
from tasder_plugin.nn import effective_plan
from tasder_plugin.progress import progress_enabled

from .cost_settings import CostSettings
from .dense_cache import dense_accuracy
from .loggers import build_logger
from .module import evaluation_module
from .plans import PlanContext, build_plan
from .results import build_results, print_summary, write_json

__all__ = ["evaluate", "validate"]


def _plain(node) -> dict:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


def _model_config(cfg: DictConfig) -> ModelConfig:
    fields = _plain(cfg.model)
    if fields.get("input_size") is not None:
        fields["input_size"] = tuple(fields["input_size"])
    return ModelConfig(**fields)


def _profile(model, model_cfg: ModelConfig, data: EvalData | None, settings: CostSettings):
    """The profile the cost is computed on: shapes of ``settings.batch_size`` samples, input
    statistics of ``settings.stats_samples`` real inputs (activation sparsity is measured on
    them); without data (mode=cost), random images of the model's input size."""
    if data is not None:
        example = data.example_batch(settings.stats_samples)
        return profile_model(model, example, batch_size=settings.batch_size)
    if model_cfg.input_size is None:
        raise ValueError(f"model {model_cfg.name}: mode=cost needs model.input_size=[C,H,W]")
    gen = torch.Generator().manual_seed(0)
    return profile_model(
        model, torch.randn(settings.batch_size, *model_cfg.input_size, generator=gen)
    )


def _cost_record(settings: CostSettings, data: EvalData | None) -> dict:
    """The cost settings as used: without data the statistics come from the random batch."""
    if data is None:
        settings = dataclasses.replace(settings, stats_samples=settings.batch_size)
    return dataclasses.asdict(settings)


def _quiet_lightning() -> None:
    """Lightning's banner lines (GPU/TPU available, tips) drown the summary; keep warnings."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def validate(cfg: DictConfig, model, data: EvalData, dense_predictions=None) -> dict:
    """Lightning ``Trainer.validate`` on the evaluation split; returns ``val/*`` metrics."""
    _quiet_lightning()
    module = evaluation_module(_model_config(cfg), model, dense_predictions)
    trainer = pl.Trainer(
        **_plain(cfg.trainer),
        logger=build_logger(cfg),
        enable_checkpointing=False,
    )
    outputs = trainer.validate(module, dataloaders=data.eval, verbose=False)
    out = outputs[0] if outputs else {}
    metrics = {k: float(v) for k, v in out.items()}
    metrics["predictions"] = module.prediction_tensor()
    return metrics


def _record_in_leaderboard(cfg: DictConfig, record: dict) -> None:
    """Upsert the run; a leaderboard problem is reported, it never loses the run's results."""
    if not cfg.get("leaderboard_db"):
        return
    from .leaderboard_db import LeaderboardError, upsert

    try:
        upsert(cfg.leaderboard_db, record)
    except LeaderboardError as err:
        logging.getLogger(__name__).warning("leaderboard not updated: %s", err)


def evaluate(cfg: DictConfig) -> tuple[dict, dict]:
    """Run one configuration end to end; returns flat metrics and the objects built."""
    start = time.perf_counter()
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    settings = CostSettings.from_config(_plain(cfg.get("cost")))  # checked before any work
    model_cfg = _model_config(cfg)
    model = build_model(model_cfg)
    hw = hardware_from_dict(_plain(cfg.hw), str(cfg.hw_name))
    data = None
    if cfg.mode == "eval":
        data = build_data(_plain(cfg.data), data_config(model_cfg, model))
    elif cfg.mode != "cost":
        raise ValueError(f"mode must be 'eval' or 'cost', got {cfg.mode!r}")
    profile = _profile(model, model_cfg, data, settings)
    context = PlanContext(
        hw=hw, profile=profile, data=data, task=str(cfg.model.task), seed=int(cfg.seed),
        output_dir=Path(cfg.output_dir), progress=progress_enabled(),
    )  # fmt: skip
    plan = build_plan(_plain(cfg.tasd), model, context)

    dense = None
    if data is not None:  # before surgery: the dense model is evaluated (or read back) as is
        dense = dense_accuracy(cfg, model_cfg, lambda: validate(cfg, model, data))
    reports = apply_tasd_(model, plan)
    try:
        cost = estimate_cost(profile, effective_plan(plan, reports), hw, strict=bool(cfg.strict))
        dense_cost = estimate_cost(profile, ModelPlan.dense(model), hw)
        accuracy = None if data is None else validate(cfg, model, data, dense["predictions"])
    finally:
        remove_tasd_(model)

    metrics, record = build_results(
        cfg,
        plan,
        reports,
        cost,
        dense_cost,
        accuracy,
        dense,
        time.perf_counter() - start,
        {"cost": _cost_record(settings, data), **context.details},
    )
    write_json(Path(cfg.output_dir) / "results.json", record)
    _record_in_leaderboard(cfg, record)
    print_summary(record)
    objects = {"model": model, "plan": plan, "profile": profile, "cost": cost}
    objects.update({"dense_cost": dense_cost, "reports": reports, "record": record})
    return metrics, objects
