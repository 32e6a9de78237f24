"""``nids ab report``: read an experiment's prediction log and feedback, print and render
the figures and the verdict, and (``--apply``) promote a winning candidate through the
registry's gate, which records the promotion in the audit history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from nids.abtest.analysis import ExperimentReport, analyse
from nids.abtest.config import ExperimentConfig, load_experiment
from nids.errors import ConfigError, DataError
from nids.settings import Settings


def _fmt(value: float | None) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.4g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def read_experiment_log(
    root: str, config: ExperimentConfig, *, since: datetime | None = None
) -> pd.DataFrame:
    """The prediction-log rows of the experiment's variants."""
    from nids.monitoring.prediction_log import read_prediction_log

    log = read_prediction_log(root, since=since)
    if "variant" not in log.columns:
        raise DataError("the prediction log has no variant column", source=root)
    names = [v.name for v in config.variants]
    log = log[log["variant"].isin(names)].reset_index(drop=True)
    if log.empty:
        raise DataError(f"no prediction-log rows of the variants {names}", source=root)
    return log


def read_experiment_feedback(
    url: str, config: ExperimentConfig, log: pd.DataFrame, *, since: datetime | None = None
) -> pd.DataFrame:
    """Verdicts of the experiment's variants; one without a variant is attached through
    its Community ID to the variant that alerted on that flow in the log."""
    import sqlalchemy as sa

    from nids.monitoring.feedback import FeedbackStore, feedback_table

    t = feedback_table
    query = sa.select(t.c.verdict, t.c.variant, t.c.community_id, t.c.alert_ts)
    if since is not None:
        query = query.where(sa.or_(t.c.alert_ts.is_(None), t.c.alert_ts >= since))
    store = FeedbackStore(url)
    try:
        with store.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).mappings().all())
    finally:
        store.close()
    if frame.empty:
        return pd.DataFrame(columns=["verdict", "variant", "community_id"])
    missing = frame["variant"].isna()
    if missing.any():
        alerted = log.loc[log["is_alert"].astype(bool), ["community_id", "variant"]]
        lookup = alerted.drop_duplicates("community_id").set_index("community_id")["variant"]
        frame.loc[missing, "variant"] = frame.loc[missing, "community_id"].map(lookup)
    names = {v.name for v in config.variants}
    return frame[frame["variant"].isin(names)].reset_index(drop=True)


def report_table(report: ExperimentReport) -> Table:
    """Per-variant figures as a rich table."""
    table = Table(title=f"A/B experiment {report.experiment}")
    for col in ("variant", "role", "flows", "alerts", "alert rate [95% CI]", "p50/p99 ms"):
        table.add_column(col, justify="left" if col in {"variant", "role"} else "right")
    table.add_column("reviewed", justify="right")
    table.add_column("precision [95% CI]", justify="right")
    table.add_column("FPR", justify="right")
    for s in report.variants:
        precision = (
            f"{_pct(s.precision)} [{_pct(s.precision_ci[0])}, {_pct(s.precision_ci[1])}]"
            if s.precision is not None and s.precision_ci is not None
            else "-"
        )
        table.add_row(
            s.name,
            s.role,
            f"{s.flows:,.0f}",
            f"{s.alerts:,.0f}",
            f"{_pct(s.alert_rate)} [{_pct(s.alert_rate_ci[0])}, {_pct(s.alert_rate_ci[1])}]",
            f"{_fmt(s.latency_p50_ms)}/{_fmt(s.latency_p99_ms)}",
            str(s.reviewed),
            precision,
            _fmt(s.false_positive_rate),
        )
    return table


def _plots(report: ExperimentReport, log: pd.DataFrame) -> list[tuple[str, str]]:
    from matplotlib.figure import Figure

    from nids.monitoring.report import _png  # one PNG encoder for every HTML report

    plots = []
    names = [s.name for s in report.variants]
    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    rates = [s.alert_rate for s in report.variants]
    err = np.array(
        [
            [s.alert_rate - s.alert_rate_ci[0], s.alert_rate_ci[1] - s.alert_rate]
            for s in report.variants
        ]
    ).T
    ax.bar(names, rates, yerr=err, capsize=4)
    ax.set_title("alert rate (95% Wilson CI)", fontsize=9)
    plots.append(("alert rate", _png(fig)))
    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    scores = log["score"].to_numpy(float)
    lo, hi = np.quantile(scores, [0.001, 0.999]) if len(scores) else (0.0, 1.0)
    bins = np.linspace(float(lo), float(hi) if hi > lo else float(lo) + 1e-6, 40)
    for name in names:
        values = log.loc[log["variant"] == name, "score"].to_numpy(float)
        if values.size:
            counts, edges = np.histogram(values, bins=bins, density=True)
            ax.stairs(counts, edges, label=name, alpha=0.6, fill=False)
    ax.set_title("score distribution", fontsize=9)
    ax.legend(fontsize=7)
    plots.append(("score distribution", _png(fig)))
    reviewed = [s for s in report.variants if s.precision is not None and s.precision_ci]
    if reviewed:
        fig = Figure(figsize=(5, 3))
        ax = fig.subplots()
        precisions = [float(s.precision or 0.0) for s in reviewed]
        err = np.array(
            [
                [v - s.precision_ci[0], s.precision_ci[1] - v]
                for v, s in zip(precisions, reviewed, strict=True)
                if s.precision_ci
            ]
        ).T
        ax.bar([s.name for s in reviewed], precisions, yerr=err, capsize=4, color="tab:green")
        ax.set_title("alert precision from feedback (95% CI)", fontsize=9)
        plots.append(("precision", _png(fig)))
    return plots


def render_html(report: ExperimentReport, log: pd.DataFrame) -> str:
    """A self-contained HTML report (plots embedded as PNG)."""
    import jinja2

    source = resources.files("nids.abtest").joinpath("templates/ab_report.html.j2")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(source.read_text(encoding="utf-8")).render(
        r=report,
        plots=_plots(report, log),
        fmt=_fmt,
        pct=_pct,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


@dataclass
class ReportResult:
    """What ``nids ab report`` produced."""

    report: ExperimentReport
    json_path: Path
    html_path: Path
    applied: Any = None  # nids.registry.PromotionResult when --apply promoted


def run_report(
    settings: Settings,
    *,
    config_path: str | Path | None = None,
    log_root: str | None = None,
    since: datetime | None = None,
    out_dir: str | Path = "reports/ab",
    apply: bool = False,
    console: Console | None = None,
) -> ReportResult:
    """Analyse an experiment, print the table and verdict, write JSON + HTML, maybe apply."""
    path = config_path or settings.ab_config
    if path is None:
        raise ConfigError("no experiment: pass --config FILE or set NIDS_AB_CONFIG")
    config = load_experiment(path)
    root = log_root or settings.prediction_log_dir
    if not root:
        raise ConfigError("no prediction log: pass --log ROOT or set NIDS_PREDICTION_LOG_DIR")
    log = read_experiment_log(root, config, since=since)
    feedback = read_experiment_feedback(settings.feedback_db_url, config, log, since=since)
    report = analyse(config, log, feedback)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / f"{config.name}.json", out / f"{config.name}.html"
    _write(json_path, json.dumps(report.to_dict(), indent=2, default=str))
    _write(html_path, render_html(report, log))
    console = console or Console()
    console.print(report_table(report))
    for v in report.verdicts:
        console.print(f"[bold]{v.candidate}[/]: {v.decision.replace('_', ' ')}: {v.reason}")
    console.print(f"report: {html_path} / {json_path}")
    result = ReportResult(report, json_path, html_path)
    if apply:
        result.applied = apply_verdict(settings, config, report, console)
    return result


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")  # never a half-written report
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def apply_verdict(
    settings: Settings, config: ExperimentConfig, report: ExperimentReport, console: Console
) -> Any:
    """Promote the candidate to production through the registry gate when it won."""
    verdict = report.verdict
    if verdict is None or verdict.decision != "promote":
        decision = verdict.decision if verdict else "no candidate"
        console.print(f"--apply: nothing to promote ({decision.replace('_', ' ')})")
        return None
    from nids.registry import promote
    from nids.registry.loader import resolve_uri
    from nids.registry.store import configure_mlflow

    uri = next(v.model_uri for v in config.variants if v.name == verdict.candidate)
    mv = resolve_uri(configure_mlflow(settings), uri)
    if mv is None:
        raise ConfigError(f"{uri} is not a registered model version: cannot promote it")
    reason = (
        f"A/B experiment {config.name}: {verdict.candidate} {verdict.metric} "
        f"{_fmt(verdict.candidate_value)} vs control {_fmt(verdict.control_value)} "
        f"(p={_fmt(verdict.p_value)}, n={verdict.n_candidate}/{verdict.n_control})"
    )
    result = promote(settings, f"{mv.name}/{mv.version}", to="production", reason=reason)
    console.print(f"--apply: {mv.name} version {mv.version} {result.outcome} to production")
    return result
