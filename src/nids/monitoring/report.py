"""Drift results for people: a rich table and a self-contained HTML report.

The HTML file embeds every plot as a base64 PNG, so it can be mailed or archived
as one file and opened without network access.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from rich.table import Table

from nids.monitoring.drift import ColumnDrift, DriftResult, Reference, numeric_values
from nids.monitoring.reference import OTHER_CATEGORY, category_values


def _fmt(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "-" if value is None else str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4f}"


def drift_table(result: DriftResult, *, only_interesting: bool = False) -> Table:
    """The per-column verdicts as a rich table (drifted rows in red)."""
    verdict = "[bold red]DRIFT[/]" if result.drifted else "[bold green]no drift[/]"
    table = Table(
        title=f"{verdict}: {len(result.drifted_columns)} of {len(result.columns)} columns drifted"
    )
    table.add_column("column", no_wrap=True)  # names are what the reader looks for
    for name in ("test", "stat", "p corr.", "PSI", "W (σ)", "drifted"):
        table.add_column(name, justify="right")
    for c in result.columns:
        if only_interesting and not (c.significant or c.large):
            continue
        style = "red" if c.drifted else ("yellow" if c.significant else None)
        table.add_row(
            c.name,
            c.test,
            _fmt(c.statistic),
            _fmt(c.p_adjusted),
            _fmt(c.psi),
            _fmt(c.wasserstein),
            "yes" if c.drifted else "",
            style=style,
        )
    return table


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _numeric_plot(check: ColumnDrift, ref: np.ndarray, cur: np.ndarray) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3))  # no constrained layout: it doubles render time
    ax = fig.subplots()
    if check.kind == "raw" and min(ref.min(), cur.min()) >= 0:
        # raw bytes/packets/durations are heavy-tailed: on a linear axis one bin holds all
        ref, cur = np.log1p(ref), np.log1p(cur)
        ax.set_xlabel("log(1 + value)", fontsize=7)
    both = np.concatenate([ref, cur])
    lo, hi = np.quantile(both, [0.005, 0.995])
    if hi <= lo:
        lo, hi = float(both.min()) - 0.5, float(both.max()) + 0.5
    bins = np.linspace(lo, hi, 40)
    # stairs: one artist per histogram (bar patches made rendering 10x slower)
    for values, label in ((ref, "reference"), (cur, "current")):
        counts, _ = np.histogram(np.clip(values, lo, hi), bins=bins, density=True)
        ax.stairs(counts, bins, fill=True, alpha=0.5, label=label)
    ax.set_title(
        f"{check.name}  W={_fmt(check.wasserstein)}σ  p={_fmt(check.p_adjusted)}", fontsize=8
    )
    ax.legend(fontsize=7)
    return _png(fig)


def _categorical_plot(check: ColumnDrift, summary: Mapping[str, Any], column: pd.Series) -> str:
    from matplotlib.figure import Figure

    cats = [*summary["categories"][:12], OTHER_CATEGORY]
    ref = np.array([*summary["counts"][:12], summary["other"] + sum(summary["counts"][12:])])
    values = category_values(column)
    cur_counts = values.where(values.isin(cats[:-1]), OTHER_CATEGORY).value_counts()
    cur = np.array([cur_counts.get(c, 0) for c in cats], dtype=float)
    fig = Figure(figsize=(5, 3))  # no constrained layout: it doubles render time
    ax = fig.subplots()
    pos = np.arange(len(cats))
    ax.bar(pos - 0.2, ref / max(ref.sum(), 1), width=0.4, label="reference")
    ax.bar(pos + 0.2, cur / max(cur.sum(), 1), width=0.4, label="current")
    ax.set_xticks(pos, [str(c)[:10] for c in cats], rotation=60, fontsize=6)
    fig.subplots_adjust(bottom=0.25)
    ax.set_title(f"{check.name}  PSI={_fmt(check.psi)}  p={_fmt(check.p_adjusted)}", fontsize=8)
    ax.legend(fontsize=7)
    return _png(fig)


def render_html(
    result: DriftResult,
    reference: Reference,
    current: pd.DataFrame,
    *,
    scores: np.ndarray | None = None,
    model: str = "",
    title: str = "NIDS drift report",
    feedback: str | None = None,
    max_plots: int = 24,
) -> str:
    """A self-contained HTML report: verdict, table, reference-vs-current plots.

    Plots cover the drifted columns first, then the merely significant ones, then the
    score (each plot costs ~0.1 s: a report of every column would be slow and long).
    """
    import jinja2

    ordered = sorted(
        (c for c in result.columns if c.drifted or c.significant or c.kind == "score"),
        key=lambda c: (not c.drifted, c.kind != "score", c.p_adjusted),
    )
    plots: list[tuple[str, str]] = []
    for check in ordered[:max_plots]:
        if check.kind == "cat":
            summary = reference.categorical[check.name]
            plots.append(
                (check.name, _categorical_plot(check, summary, current[summary["column"]]))
            )
        elif check.kind == "score" and scores is not None:
            s = np.asarray(scores, dtype=float)
            plots.append(
                (check.name, _numeric_plot(check, reference.score_sample, s[np.isfinite(s)]))
            )
        elif check.name in reference.samples:
            cur = numeric_values(current, check.name)
            if cur is not None and cur.size:
                plots.append((check.name, _numeric_plot(check, reference.samples[check.name], cur)))
    source = resources.files("nids.monitoring").joinpath("templates/drift_report.html.j2")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(source.read_text(encoding="utf-8"))
    return template.render(
        title=title,
        model=model or "unknown",
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        result=result,
        plots=plots,
        fmt=_fmt,
        feedback=feedback,
    )
