"""Check a command line before Hydra runs it: compose every job, type every group.

Hydra reports a composition error in several lines (and suggests ``+key`` for a typo); this
composes each job of the command line first (a sweep's jobs one by one) and turns the first
mistake into one line naming the key, the valid keys or options and the closest one. A run
that passes goes to Hydra unchanged.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Glob
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf

from tasder_plugin.conf_location import conf_dir
from tasder_plugin.config import suggest
from tasder_plugin.errors import TasderUserError

from .errors import user_error_message
from .run_settings import load_settings

__all__ = ["MAX_JOBS", "check_command_line", "job_overrides"]

MAX_JOBS = 256  # a larger sweep is checked on its first jobs; Hydra checks the rest
_RUN_FLAGS = ("-m", "--multirun")


def job_overrides(overrides: list[str]) -> list[list[str]] | None:
    """The override list of every job of a sweep (one job without sweeps); None for sweeps
    Hydra expands from the config tree (``glob``)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    choices = []
    for item in parsed:
        if not item.is_sweep_override():
            choices.append([item.input_line])
        elif isinstance(item.value(), Glob):
            return None
        else:
            key = item.get_key_element()
            choices.append([f"{key}={value}" for value in item.sweep_string_iterator()])
    return [list(job) for job in itertools.islice(itertools.product(*choices), MAX_JOBS)]


def check_command_line(argv: list[str]) -> str | None:
    """The one-line error for the first job of ``argv`` that cannot run, else None. Command
    lines with Hydra's own flags (``--cfg``, ``--help``, ``-sc``...) are left to Hydra."""
    if any(arg.startswith("-") and arg not in _RUN_FLAGS for arg in argv):
        return None
    overrides = [arg for arg in argv if arg not in _RUN_FLAGS]
    multirun = len(overrides) != len(argv)
    try:
        jobs = job_overrides(overrides)
    except OverrideParseException as err:
        return f"cannot parse the command line: {str(err).splitlines()[0]}"
    for job in jobs or []:
        message = _check_job(job, multirun)
        if message:
            return message
    return None


def _compose(overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose("config", overrides=overrides, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()


def _check_job(overrides: list[str], multirun: bool) -> str | None:
    try:
        cfg = _compose(overrides)
    except MissingConfigException as err:
        return _unknown_option(err)
    except ConfigCompositionException as err:
        return _bad_override(err, overrides)
    try:
        load_settings(cfg, hw_name=str(cfg.hydra.runtime.choices.hw)).trainer.check_available()
    except TasderUserError as err:
        if cfg.get("debug"):  # debug=true: the traceback, as at run time
            raise
        return user_error_message(err)
    return _unwritable_run_dir(cfg, multirun)


def _unknown_option(err: MissingConfigException) -> str:
    missing = err.missing_cfg_file or ""
    group, _, name = missing.rpartition("/")
    options = [o for o in (err.options or []) if not o.startswith("tasder_schema")]
    if group and options:
        return (f"unknown {group} {name!r}{suggest(name, options)} "
                f"(valid: {', '.join(sorted(options))})")  # fmt: skip
    return str(err).splitlines()[0]


def _bad_override(err: ConfigCompositionException, overrides: list[str]) -> str:
    """A typo'd key gets its node's valid keys; a wrong type names the key and the value."""
    cause = err.__cause__
    full_key = getattr(cause, "full_key", None)
    if not full_key:
        return str(err).splitlines()[0]
    parent, _, key = str(full_key).rpartition(".")
    if "not in struct" in str(cause) or type(cause).__name__ in (
        "ConfigAttributeError",
        "ConfigKeyError",
    ):
        rest = [o for o in overrides if o.lstrip("+~").split("=")[0].split("@")[0] != full_key]
        node = OmegaConf.select(_compose(rest), parent) if parent else _compose(rest)
        valid = [k for k in node.keys() if k != "hydra"] if OmegaConf.is_dict(node) else []
        return (f"unknown key {full_key}{suggest(key, valid)} (valid: {', '.join(valid)})"
                if valid else f"unknown key {full_key}")  # fmt: skip
    return f"{full_key}: {str(cause).splitlines()[0]}"


def _unwritable_run_dir(cfg: DictConfig, multirun: bool) -> str | None:
    option = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    folder = Path(str(OmegaConf.select(cfg, option))).expanduser()
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:
        return None
    try:  # a probe file says more than permission bits (root, read-only mounts, /proc)
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError:
        return (f"cannot write the run directory {folder}: {existing} is not a writable "
                f"folder (set {option}=...)")  # fmt: skip
    return None
