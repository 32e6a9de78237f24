"""Monitoring jobs: `nids monitor drift` (one window) and `nids monitor run` (one cycle).

A check loads the reference model (default: the production alias), scores the
current window with the model's own Scorer (features and scores exactly as the
service computes them), compares it with the model's reference profile, adds the
analysts' feedback for that model version, writes JSON/HTML, and logs a monitoring
run to MLflow tagged with the model name and version.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nids.errors import DataError
from nids.monitoring.drift import DriftResult, Reference, compare_to_reference
from nids.monitoring.prediction_log import list_parts, read_latest_window, read_prediction_log
from nids.monitoring.reference import profile_from_model, read_profile_file
from nids.settings import Settings

if TYPE_CHECKING:
    from nids.monitoring.feedback import FeedbackSummary

MONITORING_RUN_TAG = "nids.run_type"
RETRAIN_TAG = "nids.retrain_triggered"

#: Called when a cycle finds drift and a retrain is due (cool-down passed). The
#: retraining pipeline plugs in here; it returns a short description of what it did.
RetrainHook = Callable[[Settings, "DriftCheck"], str]


@dataclass
class DriftCheck:
    """Everything one drift check produced."""

    result: DriftResult
    model_name: str | None
    model_version: str | None
    model_uri: str
    feedback: dict[str, Any] | None = None
    run_id: str | None = None
    report_path: Path | None = None
    json_path: Path | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON view: the drift result plus model identity and feedback metrics."""
        return {
            "model": {
                "name": self.model_name,
                "version": self.model_version,
                "uri": self.model_uri,
            },
            "drift": self.result.to_dict(),
            "feedback": self.feedback,
            "mlflow_run_id": self.run_id,
            "notes": self.notes,
        }


@dataclass
class _Model:
    reference: Reference
    scorer: Any | None
    name: str | None
    version: str | None
    uri: str


def _load_reference(uri: str, settings: Settings) -> _Model:
    """A registered model (URI) with its profile, or a bare profile JSON (no scorer)."""
    if Path(uri).exists():
        return _Model(Reference(read_profile_file(uri)), None, None, None, uri)
    from nids.registry import load_model

    loaded = load_model(uri, settings)
    version = str(loaded.version) if loaded.version is not None else None
    scorer = getattr(loaded.nids_model, "scorer", None)
    return _Model(Reference(profile_from_model(loaded)), scorer, loaded.name, version, uri)


def load_window(source: str, settings: Settings) -> pd.DataFrame:
    """A current window: prediction-log partitions, or any flow data ``read_flows`` reads."""
    storage = {"endpoint_url": settings.s3_endpoint_url} if settings.s3_endpoint_url else None
    opts = {"client_kwargs": storage} if storage and source.startswith("s3://") else None
    try:
        is_log = any(
            p.rsplit("/", 1)[-1].startswith("part-")
            for p in list_parts(source, storage_options=opts)
        )
    except (OSError, ValueError):
        is_log = False
    if is_log:
        return read_prediction_log(source, storage_options=opts)
    from nids.data import read_flows

    return read_flows(
        source,
        on_error=settings.on_error,
        quarantine_dir=settings.quarantine_dir,
        s3_endpoint_url=settings.s3_endpoint_url,
    )


def _score_window(model: _Model, frame: pd.DataFrame) -> tuple[pd.DataFrame, Any, Any, list[str]]:
    """Features and scores of the window, as the service computed them where possible.

    Returns the frame (with ``feature:<name>`` columns), scores, alert flags and notes;
    notes name columns that cannot be compared honestly (see below).
    """
    notes: list[str] = []
    logged_scores = "score" in frame.columns and "is_alert" in frame.columns
    if model.scorer is None:
        scores = frame["score"].to_numpy(dtype=float) if logged_scores else None
        alerts = frame["is_alert"].to_numpy(dtype=bool) if logged_scores else None
        return frame, scores, alerts, notes
    scorer = model.scorer
    if "model_version" in frame.columns and model.version is not None:
        mine = frame["model_version"].astype(str) == model.version
        if mine.any() and not mine.all():
            notes.append(f"kept the {int(mine.sum())} log rows scored by version {model.version}")
            frame = frame[mine.to_numpy()].reset_index(drop=True)
        elif not mine.any():
            logged_scores = False  # another version's scores: rescore with this one
    logged = [f"feature:{n}" for n in scorer.feature_names]
    if all(c in frame.columns for c in logged):
        # Online values from the service: host context over ALL traffic.
        x = frame[logged].to_numpy(dtype=float)
        return frame, scorer.score_features(x), None, notes
    x = scorer.features(frame)
    frame = pd.concat([frame.reset_index(drop=True), pd.DataFrame(x, columns=logged)], axis=1)
    sampled = "sample_rate" in frame.columns and bool((frame["sample_rate"] < 1).any())
    if not sampled:
        scores = scorer.score_features(x)
        return frame, scores, scores > scorer.threshold, notes
    # A sampled log without logged features: per-host window features recomputed on
    # the sample would count a fraction of each host's flows and look like drift,
    # and so would scores computed from them. Use the service's own scores instead.
    notes.append(
        "sampled prediction log without logged features: host-context features not "
        "compared, scores and alerts as the service logged them"
    )
    if logged_scores:
        return frame, frame["score"].to_numpy(dtype=float), frame["is_alert"].to_numpy(bool), notes
    notes.append("no scores of this model version in the log: score and alert rate not compared")
    return frame, None, None, notes


def context_columns(scorer: Any) -> set[str]:
    """Reference keys of the host-context (per-source window) features."""
    from nids.features import FEATURE_GROUPS

    return {f"feature:{n}" for n in FEATURE_GROUPS.get("context", ()) if n in scorer.feature_names}


def check_window(
    settings: Settings,
    frame: pd.DataFrame,
    *,
    reference: str | None = None,
    report: Path | None = None,
    json_out: Path | None = None,
    log_to_mlflow: bool = True,
    title: str = "NIDS drift report",
) -> DriftCheck:
    """Drift, feedback metrics, outputs and MLflow logging for one window frame."""
    uri = reference or settings.model_uri
    model = _load_reference(uri, settings)
    frame, scores, alerts, notes = _score_window(model, frame)
    threshold = model.scorer.threshold if model.scorer is not None else None
    exclude = context_columns(model.scorer) if any("host-context" in n for n in notes) else set()
    result = compare_to_reference(
        model.reference,
        frame,
        scores=scores,
        is_alert=alerts,
        threshold=threshold,
        p_threshold=settings.drift_p_threshold,
        correction=settings.drift_correction,
        psi_threshold=settings.drift_psi_threshold,
        wasserstein_threshold=settings.drift_wasserstein_threshold,
        exclude=exclude,
    )
    check = DriftCheck(result, model.name, model.version, uri, notes=notes)
    check.feedback = feedback_metrics(settings, model.version, frame, alerts)
    if report is not None:
        from nids.monitoring.report import render_html

        feedback_line = _feedback_line(check.feedback)
        model_label = f"{model.name} v{model.version}" if model.name else uri
        html = render_html(
            result,
            model.reference,
            frame,
            scores=scores,
            model=model_label,
            title=title,
            feedback=feedback_line,
        )
        write_atomic(report, html)
        check.report_path = report
    if json_out is not None:
        import json

        write_atomic(json_out, json.dumps(check.to_dict(), indent=2))
        check.json_path = json_out
    if log_to_mlflow:
        from nids.monitoring.tracking import log_monitoring_run

        check.run_id = log_monitoring_run(settings, check)
    return check


def run_drift(
    settings: Settings,
    current: str,
    *,
    reference: str | None = None,
    report: Path | None = None,
    json_out: Path | None = None,
    log_to_mlflow: bool = True,
) -> DriftCheck:
    """`nids monitor drift`: check the window at ``current`` (path, glob, log root)."""
    frame = load_window(current, settings)
    return check_window(
        settings,
        frame,
        reference=reference,
        report=report,
        json_out=json_out,
        log_to_mlflow=log_to_mlflow,
        title=f"NIDS drift report: {current}",
    )


def run_cycle(
    settings: Settings,
    *,
    window_h: float | None = None,
    retrain_hook: RetrainHook | None = None,
    now: datetime | None = None,
) -> DriftCheck:
    """`nids monitor run`: one monitoring cycle over the latest prediction-log window.

    Drift check + feedback metrics + MLflow run + report under
    ``settings.monitor_report_dir``. On drift, with ``settings.retrain_on_drift`` and
    the cool-down passed, ``retrain_hook`` is called (the retraining pipeline's entry
    point); without a hook the run only records that a retrain is due.
    """
    if not settings.prediction_log_dir:
        raise DataError("no prediction log configured (NIDS_PREDICTION_LOG_DIR)")
    hours = window_h or settings.monitor_window_h
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    frame = read_latest_window(settings.prediction_log_dir, hours, now=now)
    out = Path(settings.monitor_report_dir)
    check = check_window(
        settings,
        frame,
        report=out / f"drift-{stamp}.html",
        json_out=out / f"drift-{stamp}.json",
        title=f"NIDS monitoring cycle: last {hours:g} h",
    )
    if check.result.drifted and settings.retrain_on_drift:
        from nids.monitoring.tracking import hours_since_retrain, tag_run

        since = hours_since_retrain(settings)
        if since is not None and since < settings.retrain_cooldown_h:
            check.notes.append(
                f"retrain due but in cool-down ({since:.1f} h < {settings.retrain_cooldown_h:g} h)"
            )
        elif retrain_hook is None:
            check.notes.append("retrain due: no retrain hook installed, nothing started")
        else:
            check.notes.append(f"retrain triggered: {retrain_hook(settings, check)}")
            if check.run_id:
                tag_run(settings, check.run_id, {RETRAIN_TAG: "true"})
    return check


def feedback_metrics(
    settings: Settings, model_version: str | None, frame: pd.DataFrame, alerts: Any
) -> dict[str, Any] | None:
    """Live precision / FPR / alerts per day of a model version, if verdicts exist."""
    url = settings.feedback_db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None  # never create a database just to find it empty
    from nids.monitoring.feedback import FeedbackStore

    store = FeedbackStore(url)
    try:
        summaries = store.summary(model_version=model_version)
    finally:
        store.close()
    if not summaries:
        return None
    return window_rates(_merge(summaries), frame, alerts)


def _merge(summaries: list[FeedbackSummary]) -> FeedbackSummary:
    first = summaries[0]
    for other in summaries[1:]:
        first.true_positive += other.true_positive
        first.false_positive += other.false_positive
        first.benign_interesting += other.benign_interesting
    return first


def window_rates(summary: FeedbackSummary, frame: pd.DataFrame, alerts: Any) -> dict[str, Any]:
    """Precision from verdicts, and FPR / alerts per day scaled to the window's traffic.

    Prediction-log rows carry their sampling rate: each stands for 1/rate flows.
    """
    weights = (
        1.0 / frame["sample_rate"].to_numpy(dtype=float)
        if "sample_rate" in frame.columns
        else np.ones(len(frame))
    )
    is_alert = np.asarray(alerts, dtype=bool) if alerts is not None else np.zeros(len(frame), bool)
    n_flows = float(weights.sum())
    n_alerts = float(weights[is_alert].sum())
    days = _window_days(frame)
    out = summary.to_dict()
    out["false_positive_rate"] = summary.false_positive_rate(n_flows, n_alerts)
    out["alerts_per_day"] = n_alerts / days if days else None
    out["window_flows"] = n_flows
    out["window_alerts"] = n_alerts
    return out


def _window_days(frame: pd.DataFrame) -> float | None:
    column = "scored_at" if "scored_at" in frame.columns else "ts"
    if column not in frame.columns or frame.empty:
        return None
    ts = pd.to_datetime(frame[column], utc=True)
    span = (ts.max() - ts.min()).total_seconds() / 86400
    return max(span, 1 / 24)  # at least an hour, so a burst does not divide by ~0


def _feedback_line(feedback: dict[str, Any] | None) -> str | None:
    if not feedback:
        return None
    parts = [f"{feedback['reviewed']} reviewed alerts"]
    for key in ("precision", "false_positive_rate", "alerts_per_day"):
        if feedback.get(key) is not None:
            parts.append(f"{key.replace('_', ' ')} {feedback[key]:.4g}")
    return ", ".join(parts)


def write_atomic(path: Path, text: str) -> None:
    """Write a file completely or not at all (temp file in the same directory, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
