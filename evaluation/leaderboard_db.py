"""The leaderboard database: one SQLite row per configuration, shared by parallel sweep jobs.

results.json stays the source of truth; this table only collects runs so they can be compared.
A row is keyed by a hash of the resolved config without run-specific keys, so re-running a
configuration replaces its row. WAL mode and a generous busy timeout let Hydra multirun jobs in
separate processes write at once; each write is one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from tasder_plugin.errors import TasderUserError, one_line

__all__ = [
    "BUSY_TIMEOUT_S",
    "LeaderboardError",
    "RUN_SPECIFIC_KEYS",
    "config_key",
    "config_key_from_config",
    "read_frame",
    "read_rows",
    "record_error",
    "tasd_label",
    "upsert",
]

BUSY_TIMEOUT_S = 30.0
# Dotted paths that change between runs of one configuration without changing its result.
RUN_SPECIFIC_KEYS = (
    "output_dir",
    "cache_dir",
    "leaderboard_db",
    "debug",
    "logger",
    "hydra",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
)
TABLE = "runs"
# Fixed columns; every metric also gets a column of its own, added on demand.
FIXED_COLUMNS = {
    "key": "TEXT PRIMARY KEY",
    "status": "TEXT NOT NULL",
    "error": "TEXT",
    "model": "TEXT",
    "data": "TEXT",
    "hw": "TEXT",
    "tasd": "TEXT",
    "mode": "TEXT",
    "seed": "INTEGER",
    "timestamp": "TEXT NOT NULL",
    "git_sha": "TEXT",
    "metrics": "TEXT NOT NULL",
    "record": "TEXT NOT NULL",
}


class LeaderboardError(TasderUserError, RuntimeError):
    """A leaderboard database that is missing, empty, locked or malformed."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _drop(config: dict, dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    node = config
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(leaf, None)


def _plain_config(config) -> dict:
    """A plain dict from a dict or an OmegaConf config (resolved where it can be)."""
    if isinstance(config, dict):
        return config
    from omegaconf import OmegaConf

    try:
        return OmegaConf.to_container(config, resolve=True)
    except Exception:  # an unresolvable config is often why the job failed
        return OmegaConf.to_container(config, resolve=False)


def config_key_from_config(config) -> str:
    """sha256 (first 20 hex digits) of the config without RUN_SPECIFIC_KEYS, keys sorted."""
    stripped = copy.deepcopy(_plain_config(config))
    for dotted in RUN_SPECIFIC_KEYS:
        _drop(stripped, dotted)
    text = json.dumps(stripped, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def config_key(record: dict) -> str:
    """The row key of a results.json record: the hash of its resolved ``config``."""
    if "config" not in record:
        raise ValueError("record has no 'config' (expected a results.json record)")
    return config_key_from_config(record["config"])


def tasd_label(tasd: dict | None) -> str:
    """A short human label for a tasd setting (``uniform W=2:4 A=-``, ``tasder max_drop=0.01``):
    each kind labels its own settings; an unknown kind (an old record) lists its options."""
    from .plans import PLAN_KINDS

    tasd = tasd or {}
    kind = tasd.get("kind", "none")
    if kind in PLAN_KINDS:
        return PLAN_KINDS.get(kind).label(tasd)
    extra = " ".join(f"{k}={v}" for k, v in sorted(tasd.items()) if k != "kind" and v)
    return f"{kind} {extra}".strip()


def _scalar(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (int, str))


def _connect(db_path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves), WAL journal, busy timeout."""
    conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:  # switching a new file to WAL can report "locked" without waiting
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError as err:
            if not _is_locked(err) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.05)
    return conn


def _is_locked(err: sqlite3.OperationalError) -> bool:
    return "locked" in str(err) or "busy" in str(err)


def _ensure_schema(conn: sqlite3.Connection, metric_names) -> None:
    """Create the table and add a column per new metric; call inside the write transaction."""
    columns = ", ".join(f"{_quote(n)} {t}" for n, t in FIXED_COLUMNS.items())
    conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({columns})")
    have = {row[1].lower() for row in conn.execute(f"PRAGMA table_info({TABLE})")}
    for name in metric_names:
        if name.lower() not in have:
            conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN {_quote(name)}")  # untyped: keep ints
            have.add(name.lower())


def _write(db_path, row: dict, metrics: dict) -> None:
    """Insert or replace one row in a single BEGIN IMMEDIATE transaction."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    columns = {k: v for k, v in metrics.items() if k.lower() not in FIXED_COLUMNS and _scalar(v)}
    values = {**row, **columns}
    sql = (
        f"INSERT OR REPLACE INTO {TABLE} ({', '.join(_quote(k) for k in values)}) "
        f"VALUES ({', '.join('?' for _ in values)})"
    )
    try:
        conn = _connect(db_path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                _ensure_schema(conn, columns)
                conn.execute(sql, list(values.values()))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
    except sqlite3.OperationalError as err:
        if _is_locked(err):
            raise LeaderboardError(
                f"leaderboard {db_path}: still locked after {BUSY_TIMEOUT_S:.0f} s by another "
                "writer (is it on a network file system? use a local disk)"
            ) from err
        raise _unwritable(db_path, err) from err
    except (sqlite3.DatabaseError, OSError) as err:  # not SQLite, a directory, read-only...
        raise _unwritable(db_path, err) from err


def _unwritable(db_path: Path, err: Exception) -> LeaderboardError:
    reason = getattr(err, "strerror", None) or one_line(err)
    return LeaderboardError(
        f"cannot write leaderboard {db_path}: {reason} (set leaderboard_db=<a writable SQLite "
        "file>, or leaderboard_db=null to skip it)"
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def upsert(db_path, record: dict) -> str:
    """Store one results.json record (status ok), replacing its configuration's row."""
    key = config_key(record)
    metrics = record.get("metrics") or {}
    row = {
        "key": key,
        "status": "ok",
        "error": None,
        "model": record.get("model"),
        "data": record.get("data"),
        "hw": record.get("hw"),
        "tasd": tasd_label(record.get("tasd")),
        "mode": record.get("mode"),
        "seed": record.get("seed"),
        "timestamp": _now(),
        "git_sha": record.get("git_sha"),
        "metrics": json.dumps(metrics, default=str),
        "record": json.dumps(record, default=str),
    }
    _write(db_path, row, metrics)
    return key


def record_error(db_path, config, message: str) -> str:
    """Store a failed job (status error, one-line message) under its configuration's key."""
    config = _plain_config(config)
    key = config_key_from_config(config)
    line = one_line(message) or "unknown error"
    mode = config.get("mode")
    row = {
        "key": key,
        "status": "error",
        "error": line,
        "model": (config.get("model") or {}).get("name"),
        "data": (config.get("data") or {}).get("name") if mode != "cost" else None,
        "hw": config.get("hw_name"),
        "tasd": tasd_label(config.get("tasd")),
        "mode": mode,
        "seed": config.get("seed"),
        "timestamp": _now(),
        "git_sha": None,
        "metrics": "{}",
        "record": json.dumps({"status": "error", "error": line, "config": config}, default=str),
    }
    _write(db_path, row, {})
    return key


def _select_all(db_path: Path) -> list[dict]:
    conn = _connect(db_path)
    try:
        conn.row_factory = sqlite3.Row
        exists = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"
        if not conn.execute(exists, (TABLE,)).fetchone():
            return []
        fixed = ", ".join(_quote(name) for name in FIXED_COLUMNS)
        found = conn.execute(f"SELECT {fixed} FROM {TABLE} ORDER BY model, hw, tasd, seed, key")
        return [dict(r) for r in found]
    finally:
        conn.close()


def read_rows(db_path, include_record: bool = False) -> list[dict]:
    """Flat rows: the fixed columns plus one entry per metric (from the metrics JSON)."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise LeaderboardError(f"no leaderboard database at {db_path}")
    try:
        raw = _select_all(db_path)
    except sqlite3.DatabaseError as err:  # not SQLite, or locked past the busy timeout
        raise LeaderboardError(f"cannot read leaderboard {db_path}: {err}") from err
    rows = []
    for item in raw:
        record = item.pop("record")
        row = dict(item)
        parsed = json.loads(record or "{}")
        tasd = parsed.get("tasd") or (parsed.get("config") or {}).get("tasd")
        if tasd:  # labels are presentation: rendered with today's rules, old rows included
            row["tasd"] = tasd_label(tasd)
        for name, value in json.loads(row.pop("metrics") or "{}").items():
            row.setdefault(name, value)  # a metric never hides a fixed column
        if include_record:
            row["record"] = parsed
        rows.append(row)
    return rows


def read_frame(db_path):
    """The leaderboard as a pandas DataFrame with flat columns (metric keys as column names)."""
    import pandas as pd

    rows = read_rows(db_path)
    return pd.DataFrame(rows, columns=list(dict.fromkeys(k for r in rows for k in r)))
