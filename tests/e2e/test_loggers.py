"""Lightning loggers from conf/logger: CSV always; TensorBoard, W&B (offline) and MLflow (file
store) when their optional packages are installed, and a one-line error naming the extra when
they are not."""

import importlib.util
from pathlib import Path

import pytest

from evaluation import loggers
from evaluation.loggers import OPTIONAL_LOGGERS, LoggerUnavailableError, build_logger

from .test_evaluate import run_cli

OPTIONAL = {"tensorboard": "TensorBoardLogger", "wandb": "WandbLogger", "mlflow": "MLFlowLogger"}


def installed(option: str) -> bool:
    return any(importlib.util.find_spec(m) for m in OPTIONAL_LOGGERS[OPTIONAL[option]][0])


def test_csv_logger_writes_under_the_run_and_null_disables(make_cfg):
    from lightning.pytorch.loggers import CSVLogger

    cfg = make_cfg()
    logger = build_logger(cfg)
    assert isinstance(logger, CSVLogger) and Path(logger.save_dir) == Path(cfg.output_dir)
    assert build_logger(make_cfg("~logger")) is False


@pytest.mark.parametrize("option", sorted(OPTIONAL))
def test_missing_optional_package_names_the_extra(option, make_cfg, monkeypatch):
    modules = OPTIONAL_LOGGERS[OPTIONAL[option]][0]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        loggers.importlib.util, "find_spec", lambda name: None if name in modules else real(name)
    )
    with pytest.raises(LoggerUnavailableError) as err:
        build_logger(make_cfg(f"logger={option}"))
    message = str(err.value)
    assert 'pip install "tasder[loggers]"' in message and OPTIONAL[option] in message
    assert "\n" not in message


@pytest.mark.slow
@pytest.mark.parametrize("option", sorted(OPTIONAL))
def test_optional_logger_writes_under_the_run(option, make_cfg):
    if not installed(option):
        pytest.skip(f"{option} is not installed (pip install 'tasder[loggers]')")
    cfg = make_cfg(f"logger={option}")
    logger = build_logger(cfg)
    logger.log_metrics({"val/acc1": 0.5}, step=0)
    logger.finalize("success")
    if option == "wandb":
        import wandb

        wandb.finish()
    written = [p for p in Path(cfg.output_dir).rglob("*") if p.is_file()]
    assert written, f"{option} wrote nothing under {cfg.output_dir}"


@pytest.mark.slow
def test_cli_reports_a_missing_logger_package_in_one_line(tmp_path):
    missing = [option for option in sorted(OPTIONAL) if not installed(option)]
    if not missing:
        pytest.skip("every optional logger package is installed")
    out = run_cli(f"logger={missing[0]}", "trainer.enable_progress_bar=false", tmp_path=tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and 'pip install "tasder[loggers]"' in lines[0], out.stderr[-2000:]
    assert "Traceback" not in out.stderr
