"""One harness run: ``evaluate(cfg) -> (metrics, objects)``.

config -> model -> data -> profile (one batch) -> plan -> dense accuracy (cached) -> apply TASD
-> cost on the hardware and on dense -> Lightning validate -> results.json.
Tests call :func:`evaluate` directly; ``python -m evaluation`` is a thin shell around it.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig

from tasder_plugin import profile_model, remove_tasd_
from tasder_plugin.atomic_io import cannot_write
from tasder_plugin.data import EvalData, build_data
from tasder_plugin.errors import ConfigError, OutputError
from tasder_plugin.models.adapters import ModelConfig, build_model
from tasder_plugin.models.preprocessing import data_config
from tasder_plugin.nn.plan import output_embedding_name
from tasder_plugin.pipeline import apply_and_cost_
from tasder_plugin.profile.decode import decode_step
from tasder_plugin.profile.settings import CostSettings
from tasder_plugin.progress import progress_enabled

from .dense_cache import dense_accuracy
from .loggers import build_logger
from .module import evaluation_module
from .plans import PlanContext, build_plan
from .results import build_results, print_paths, print_summary, write_json
from .run_settings import RunSettings, load_settings

__all__ = ["evaluate", "validate"]


def _profile(model, model_cfg: ModelConfig, data: EvalData | None, settings: CostSettings):
    """The profile the cost is computed on: shapes of ``settings.batch_size`` samples, input
    statistics of ``settings.stats_samples`` real inputs (activation sparsity is measured on
    them); without data (mode=cost), random images of the model's input size. A causal LM's
    decode phase profiles one real decode step (:mod:`tasder_plugin.profile.decode`)."""
    if model_cfg.task.predicts_tokens:
        if data is None:
            raise ConfigError(f"model {model_cfg.name}: a causal LM is costed on token windows "
                              "of its data: use mode=eval")  # fmt: skip
        if settings.phase == "decode":
            windows = (inputs["input_ids"] for inputs, _ in data.eval)
            step = decode_step(model, windows, settings.batch_size, settings.context)
            return profile_model(model, step)
    elif settings.phase == "decode":
        raise ConfigError("cost.phase=decode costs a causal LM's token step (model.task=causal-lm)")
    if data is not None:
        example = data.example_batch(settings.stats_samples)
        return profile_model(model, example, batch_size=settings.batch_size)
    if model_cfg.input_size is None:
        raise ConfigError(f"model {model_cfg.name}: mode=cost needs model.input_size=[C,H,W]")
    gen = torch.Generator().manual_seed(0)
    return profile_model(
        model, torch.randn(settings.batch_size, *model_cfg.input_size, generator=gen)
    )


def _keep_dense(model, model_cfg: ModelConfig) -> dict[str, str]:
    """A causal LM's output embedding stays dense unless ``model.dense_lm_head=false``."""
    name = output_embedding_name(model)
    if not model_cfg.task.predicts_tokens or not model_cfg.dense_lm_head or name is None:
        return {}
    return {name: "the output embedding of a causal LM stays dense, as in Wanda and SparseGPT "
                  "(model.dense_lm_head=false decomposes it)"}  # fmt: skip


def _cost_record(settings: CostSettings, data: EvalData | None, model_cfg: ModelConfig) -> dict:
    """The cost settings as used: without data the statistics come from the random batch; a
    causal LM's phase (decode: statistics of the one decode step, at its context)."""
    stats = settings.batch_size if data is None else settings.stats_samples
    record = {"batch_size": settings.batch_size, "stats_samples": stats}
    if model_cfg.task.predicts_tokens:
        record["phase"] = settings.phase
        if settings.phase == "decode":
            record.update(stats_samples=settings.batch_size, context=settings.context)
    return record


def _quiet_lightning() -> None:
    """Lightning's banner lines (GPU/TPU available, tips) drown the summary; keep warnings."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def validate(
    cfg: DictConfig, run: RunSettings, model, data: EvalData, dense_predictions=None
) -> dict:
    """Lightning ``Trainer.validate`` on the evaluation split; returns ``val/*`` metrics."""
    _quiet_lightning()
    module = evaluation_module(run.model, model, dense_predictions)
    trainer = pl.Trainer(
        **run.trainer.as_kwargs(),
        logger=build_logger(cfg),
        enable_checkpointing=False,
    )
    outputs = trainer.validate(module, dataloaders=data.eval, verbose=False)
    out = outputs[0] if outputs else {}
    metrics = {k: float(v) for k, v in out.items()}
    metrics["predictions"] = module.prediction_tensor()
    return metrics


def _record_in_leaderboard(db_path: str | None, record: dict, notes: list[str]) -> str | None:
    """Upsert the run; a leaderboard problem is reported, it never loses the run's results.
    Returns the database written, if any."""
    if not db_path:
        return None
    from .leaderboard_db import LeaderboardError, upsert

    try:
        upsert(db_path, record)
    except LeaderboardError as err:
        notes.append(f"leaderboard not updated: {err}")
        return None
    return db_path


def _write_results(path: Path, record: dict) -> Path:
    try:
        return write_json(path, record)
    except OSError as err:
        raise OutputError(
            f"{cannot_write(err, path)} (set hydra.run.dir=<a writable folder>)"
        ) from None


def evaluate(cfg: DictConfig) -> tuple[dict, dict]:
    """Run one configuration end to end; returns flat metrics and the objects built."""
    start = time.perf_counter()
    notes: list[str] = []  # problems that do not lose the run, printed after its summary
    run = load_settings(cfg)  # the edge: every group checked before any work
    run.trainer.check_available()
    pl.seed_everything(run.top.seed, workers=True, verbose=False)
    model = build_model(run.model)
    data = None
    if run.top.mode == "eval":
        data = build_data(run.data, data_config(run.model, model))
    profile = _profile(model, run.model, data, run.top.cost)
    context = PlanContext(
        hw=run.hw, profile=profile, data=data, task=run.model.task, seed=run.top.seed,
        output_dir=Path(run.top.output_dir), progress=progress_enabled(),
        keep_dense=_keep_dense(model, run.model),
    )  # fmt: skip
    plan = build_plan(run.tasd, model, context)

    dense = None
    if data is not None:  # before surgery: the dense model is evaluated (or read back) as is
        dense = dense_accuracy(cfg, run.model, lambda: validate(cfg, run, model, data), notes)
    applied = apply_and_cost_(model, plan, run.hw, profile, strict=run.top.strict)
    try:
        accuracy = None if data is None else validate(cfg, run, model, data, dense["predictions"])
    finally:
        remove_tasd_(model)

    metrics, record = build_results(
        cfg, applied, accuracy, dense, time.perf_counter() - start,
        {"cost": _cost_record(run.top.cost, data, run.model), **context.details},
    )  # fmt: skip
    results = _write_results(Path(run.top.output_dir) / "results.json", record)
    board = _record_in_leaderboard(run.top.leaderboard_db, record, notes)
    print_summary(record)
    print_paths(results, board)
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    objects = {"model": model, "plan": plan, "profile": profile, "cost": applied.cost}
    objects.update({"dense_cost": applied.dense_cost, "reports": applied.reports})
    objects.update({"record": record, "settings": run})
    return metrics, objects
