"""``python -m evaluation.leaderboard --db PATH --out DIR``: tables and Pareto plots of a sweep.

Reads the leaderboard database (evaluation.leaderboard_db), writes one table per format (one row
per run, sorted per model by EDP reduction) and one accuracy-vs-EDP-reduction plot per
(model, hw) pair with the Pareto front highlighted. Every file is written atomically (temp file +
os.replace) so a browser or a concurrent render never sees half a file.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from tasder_plugin.atomic_io import cannot_write, write_atomic, write_text_atomic
from tasder_plugin.errors import ConfigError

from .leaderboard_db import LeaderboardError, read_rows
from .results import HIGHER_IS_BETTER

__all__ = ["FORMATS", "main", "pareto_front", "render", "table"]

FORMATS = ("md", "csv", "html")
EDP_REDUCTION = "hw/edp_reduction"


def _columns(metric: str) -> list[tuple[str, str, str | None]]:
    """(title, row key, format) of each table column; ``metric`` is the accuracy shown."""
    return [
        ("model", "model", None),
        ("data", "data", None),
        ("hw", "hw", None),
        ("tasd", "tasd", None),
        ("seed", "seed", None),
        (metric, metric, "{:.4f}"),
        (f"delta {metric}", f"delta_{metric}", "{:+.4f}"),
        ("agreement", "val/agreement", "{:.4f}"),
        ("EDP reduction", EDP_REDUCTION, "{:.1%}"),
        ("speedup", "hw/speedup", "{:.2f}x"),
        ("energy ratio", "hw/energy_ratio", "{:.2f}x"),
        ("status", "status", None),
        ("error", "error", None),
    ]


def _number(value) -> float | None:
    """A finite float, or None for missing/non-numeric/NaN (cost-only rows, error rows)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _sign(metric: str) -> float:
    """+1 where the metric is better higher (accuracy), -1 where lower (perplexity)."""
    return 1.0 if HIGHER_IS_BETTER.get(metric, True) else -1.0


def _sort_key(row: dict, metric: str):
    """Per model: highest EDP reduction first, then the best metric; missing values last."""
    edp, acc = _number(row.get(EDP_REDUCTION)), _number(row.get(metric))
    return (
        str(row.get("model") or ""),
        edp is None,
        -(edp or 0.0),
        acc is None,
        -_sign(metric) * (acc or 0.0),
        str(row.get("hw") or ""),
        str(row.get("tasd") or ""),
    )


def table(rows: list[dict], metric: str = "val/acc1") -> list[dict]:
    """Leaderboard rows (title -> raw value), sorted per model by EDP reduction."""
    columns = _columns(metric)
    ordered = sorted(rows, key=lambda r: _sort_key(r, metric))
    return [{title: row.get(key) for title, key, _ in columns} for row in ordered]


def _cell(value, fmt: str | None) -> str:
    if value is None:
        return ""
    number = _number(value)
    if fmt is None or number is None:
        return str(value)
    return fmt.format(number)


def _formatted(rows: list[dict], metric: str) -> tuple[list[str], list[list[str]]]:
    columns = _columns(metric)
    titles = [title for title, _, _ in columns]
    cells = [[_cell(row[title], fmt) for title, _, fmt in columns] for row in rows]
    return titles, cells


def _markdown(rows: list[dict], metric: str) -> str:
    titles, cells = _formatted(rows, metric)
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for line in cells:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in line) + " |")
    return "\n".join(lines) + "\n"


def _csv(rows: list[dict], metric: str) -> str:
    """Raw values (not formatted) so the CSV stays machine-readable."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[title for title, _, _ in _columns(metric)])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _html(rows: list[dict], metric: str) -> str:
    titles, cells = _formatted(rows, metric)
    head = "".join(f"<th>{html.escape(t)}</th>" for t in titles)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in line) + "</tr>" for line in cells
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>TASDER leaderboard</title>\n'
        "<style>table{border-collapse:collapse;font-family:sans-serif;font-size:14px}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}</style></head>\n"
        f"<body><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n"
        "</table></body></html>\n"
    )


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points when both coordinates are better higher.

    A point is dominated when another is >= in both coordinates and > in one; equal points are
    all kept. NaN points are never on the front. Indices come ordered by increasing x, the order
    in which the front is drawn.
    """
    valid = [i for i, (x, y) in enumerate(points) if not (math.isnan(x) or math.isnan(y))]
    valid.sort(key=lambda i: (-points[i][0], -points[i][1]))
    front: list[int] = []
    best_y = -math.inf  # highest y among points with strictly greater x
    start = 0
    while start < len(valid):
        x = points[valid[start]][0]
        end = start
        while end < len(valid) and points[valid[end]][0] == x:
            end += 1
        group_y = points[valid[start]][1]  # the group is sorted by y descending
        if group_y > best_y:
            front.extend(i for i in valid[start:end] if points[i][1] == group_y)
        best_y = max(best_y, group_y)
        start = end
    return sorted(front, key=lambda i: (points[i][0], points[i][1]))


def _slug(text) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "none"


def _plot_groups(rows: list[dict], metric: str) -> dict[tuple[str, str], list[dict]]:
    """ok rows with both accuracy and EDP reduction, grouped by (model, hw)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        if row.get("status") != "ok":
            continue
        if _number(row.get(metric)) is None or _number(row.get(EDP_REDUCTION)) is None:
            continue  # cost-only runs have no accuracy to plot
        groups.setdefault((str(row["model"]), str(row["hw"])), []).append(row)
    return groups


def _pareto_figure(model: str, hw: str, rows: list[dict], metric: str):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.8), dpi=100)
    FigureCanvasAgg(fig)  # Agg, no pyplot: no display, no global state across renders
    ax = fig.add_subplot()
    points = [(float(r[EDP_REDUCTION]), float(r[metric])) for r in rows]
    ax.scatter(*zip(*points), color="0.6", label="runs", zorder=2)
    front = pareto_front([(x, _sign(metric) * y) for x, y in points])
    fx, fy = [points[i][0] for i in front], [points[i][1] for i in front]
    ax.plot(fx, fy, "o-", color="tab:red", drawstyle="steps-pre", label="Pareto front", zorder=3)
    for i in front:
        label = rows[i].get("tasd") or ""
        ax.annotate(label, points[i], fontsize=7, xytext=(4, 4), textcoords="offset points")
    dense = [v for r in rows if (v := _number(r.get(f"dense_{metric}"))) is not None]
    if dense:
        mean = sum(dense) / len(dense)
        ax.scatter([0.0], [mean], marker="*", s=150, color="black", label="dense", zorder=4)
    ax.set_xlabel("EDP reduction vs dense (higher is better)")
    better = "higher" if _sign(metric) > 0 else "lower"
    ax.set_ylabel(f"{metric} ({better} is better)")
    ax.xaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    ax.set_title(f"{model} on {hw}")
    ax.margins(x=0.15, y=0.08)  # room for the labels of the front's end points
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def _texts(rows: list[dict], metric: str) -> dict[str, str]:
    return {"md": _markdown(rows, metric), "csv": _csv(rows, metric), "html": _html(rows, metric)}


def render(
    db_path, out_dir, formats: Sequence[str] = FORMATS, metric: str = "val/acc1"
) -> list[Path]:
    """Write leaderboard tables (``leaderboard.<fmt>``) and ``pareto_<model>_<hw>.png`` plots."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(f"unknown format(s) {unknown}; choose from {', '.join(FORMATS)}")
    rows = read_rows(db_path)
    if not rows:
        raise LeaderboardError(f"leaderboard database {db_path} has no runs")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    leaderboard = table(rows, metric)
    texts = _texts(leaderboard, metric)
    for fmt in formats:
        path = out_dir / f"leaderboard.{fmt}"
        write_text_atomic(path, texts[fmt])
        written.append(path)
    for (model, hw), group in sorted(_plot_groups(rows, metric).items()):
        fig = _pareto_figure(model, hw, group, metric)
        path = out_dir / f"pareto_{_slug(model)}_{_slug(hw)}.png"
        write_atomic(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png"))
        written.append(path)
    return written


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {','.join(FORMATS)}, got {text!r}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.leaderboard", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--db", required=True, type=Path, help="leaderboard SQLite database")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--formats", type=_formats, default=FORMATS, help="md,csv,html")
    parser.add_argument("--metric", default="val/acc1", help="accuracy metric to show and plot")
    args = parser.parse_args(argv)
    try:
        written = render(args.db, args.out, args.formats, args.metric)
    except LeaderboardError as err:
        print(f"leaderboard: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # --out is read-only, a file, on a full disk...
        print(f"leaderboard: {cannot_write(err, args.out)} (choose --out)", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
