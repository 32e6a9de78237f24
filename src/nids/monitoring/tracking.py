"""MLflow side of monitoring: one run per check, tagged with the model it watched.

Runs go to the experiment ``<experiment_name>-monitoring``. Tags ``nids.model_name``
and ``nids.model_version`` link a run to the registered model version; metrics
include ``prediction_mean``, ``alert_rate``, ``drift_detected``, per-column
``drift.<column>.{ks_stat,p_adjusted,psi,wasserstein,drifted}`` and, when analysts
gave verdicts, ``precision``, ``false_positive_rate`` and ``alerts_per_day``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from nids.errors import ServiceUnavailableError
from nids.registry.store import configure_mlflow, ensure_experiment
from nids.settings import Settings

if TYPE_CHECKING:
    from nids.monitoring.job import DriftCheck

_UNSAFE = re.compile(r"[^\w.\-/ ]")


def experiment_name(settings: Settings) -> str:
    """The monitoring experiment of this deployment."""
    return f"{settings.experiment_name}-monitoring"


def metric_key(column: str, stat: str) -> str:
    """MLflow-safe metric name for one column statistic."""
    return f"drift.{_UNSAFE.sub('.', column)}.{stat}"


def check_metrics(check: DriftCheck) -> dict[str, float]:
    """The metrics of one drift check (finite values only)."""
    result = check.result
    metrics: dict[str, float] = {
        "drift_detected": float(result.drifted),
        "drift_columns_drifted": float(len(result.drifted_columns)),
        "window_flows": float(result.n_current),
    }
    if result.prediction_mean is not None:
        metrics["prediction_mean"] = result.prediction_mean
    if result.alert_rate is not None:
        metrics["alert_rate"] = result.alert_rate
    for c in result.columns:
        metrics[metric_key(c.name, "ks_stat" if c.test == "ks" else "stat")] = c.statistic
        metrics[metric_key(c.name, "p_adjusted")] = c.p_adjusted
        metrics[metric_key(c.name, "drifted")] = float(c.drifted)
        if c.psi is not None:
            metrics[metric_key(c.name, "psi")] = c.psi
        if c.wasserstein is not None:
            metrics[metric_key(c.name, "wasserstein")] = c.wasserstein
    for key in ("precision", "false_positive_rate", "alerts_per_day", "reviewed"):
        value = (check.feedback or {}).get(key)
        if value is not None:
            metrics[key] = float(value)
    return {k: v for k, v in metrics.items() if math.isfinite(v)}


def log_monitoring_run(settings: Settings, check: DriftCheck) -> str:
    """Log one drift check as an MLflow run; its run id."""
    import mlflow

    experiment_id = ensure_experiment(settings, experiment_name(settings))
    tags = {
        "nids.run_type": "monitoring",
        "nids.model_name": check.model_name or "",
        "nids.model_version": check.model_version or "",
        "nids.model_uri": check.model_uri,
        "nids.drift_detected": str(check.result.drifted).lower(),
        "nids.drifted_columns": ",".join(check.result.drifted_columns)[:4000],
    }
    name = f"monitor-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    try:
        with mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=tags) as run:
            mlflow.log_params({k: str(v) for k, v in check.result.params.items()})
            mlflow.log_metrics(check_metrics(check))
            mlflow.log_dict(check.to_dict(), "drift.json")
            if check.report_path is not None and check.report_path.exists():
                mlflow.log_artifact(str(check.report_path))
            return str(run.info.run_id)
    except OSError as exc:
        raise ServiceUnavailableError(f"MLflow unreachable: {exc}") from exc


def tag_run(settings: Settings, run_id: str, tags: dict[str, str]) -> None:
    """Add tags to a finished monitoring run."""
    client = configure_mlflow(settings)
    for key, value in tags.items():
        client.set_tag(run_id, key, value)


def hours_since_retrain(settings: Settings) -> float | None:
    """Hours since a monitoring cycle last triggered a retrain (None: never)."""
    import mlflow

    experiment_id = ensure_experiment(settings, experiment_name(settings))
    runs = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string="tags.`nids.retrain_triggered` = 'true'",
        order_by=["start_time DESC"],
        max_results=1,
        output_format="list",
    )
    if not runs:
        return None
    started = datetime.fromtimestamp(runs[0].info.start_time / 1000, tz=UTC)
    return (datetime.now(UTC) - started).total_seconds() / 3600
