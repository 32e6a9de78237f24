"""All configuration in one pydantic-settings class.

Every field is read from an environment variable ``NIDS_<FIELD>`` (upper case) unless
an alias says otherwise; the standard MLflow and AWS variables are honoured as they
are. CLI flags override these values (``Settings.with_overrides``). Every variable is
documented in ``docs/configuration.md`` (a test keeps the two in step).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
DEFAULT_MODEL_NAME = "nids-isoforest"
PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]


class Settings(BaseSettings):
    """Effective configuration of every nids command and the service."""

    model_config = SettingsConfigDict(
        env_prefix="NIDS_", extra="ignore", validate_default=True, populate_by_name=True
    )

    # --- tracking and registry -------------------------------------------------
    mlflow_tracking_uri: str = Field(
        DEFAULT_TRACKING_URI,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "NIDS_MLFLOW_TRACKING_URI"),
        description="MLflow tracking URI; embedded SQLite store when unset.",
    )
    mlflow_registry_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("MLFLOW_REGISTRY_URI", "NIDS_MLFLOW_REGISTRY_URI"),
        description="MLflow registry URI when it differs from the tracking URI.",
    )
    artifact_root: str = Field(
        "mlruns/artifacts",
        description="Artefact location for experiments created on a local (sqlite/file) store.",
    )
    experiment_name: str = Field("nids", description="MLflow experiment for training runs.")
    model_name: str = Field(DEFAULT_MODEL_NAME, description="Registered model name.")
    registry_gate_margin: float = Field(
        0.01,
        ge=0,
        description="Promotion gate: refuse a candidate worse than production by more than this.",
    )
    registry_audit_experiment: str = Field(
        "nids-registry-audit",
        description="MLflow experiment holding the audit history of promotions and rollbacks.",
    )
    registry_actor: str | None = Field(
        None,
        validation_alias=AliasChoices("NIDS_ACTOR", "NIDS_REGISTRY_ACTOR"),
        description="Who is recorded in the registry audit history; defaults to $USER.",
    )
    registry_trust_on_first_use: bool = Field(
        True,
        description="Loading a version registered outside nids records its manifest instead of refusing.",
    )

    # --- data ------------------------------------------------------------------
    s3_endpoint_url: str | None = Field(
        None,
        validation_alias=AliasChoices("AWS_ENDPOINT_URL", "NIDS_S3_ENDPOINT_URL"),
        description="S3-compatible endpoint for s3:// paths (standard AWS variable).",
    )
    home_networks: list[str] = Field(
        default_factory=lambda: list(PRIVATE_NETWORKS),
        description="CIDRs of the monitored (home) networks, JSON list or comma-separated.",
    )
    on_error: Literal["fail", "quarantine"] = Field(
        "fail", description="What readers do with malformed rows: fail, or quarantine them."
    )
    quarantine_dir: Path = Field(
        Path("data/quarantine"), description="Where quarantined rows/objects are written."
    )

    # --- training --------------------------------------------------------------
    seed: int = Field(42, description="Random seed for splits, sampling and the detector.")
    n_estimators: int = Field(200, ge=1, description="Isolation Forest trees.")
    max_samples: int = Field(512, ge=2, description="Isolation Forest sub-sample size per tree.")
    max_train_rows: int = Field(
        2_000_000, ge=1, description="Fitting sample cap (uniform, seeded) for huge inputs."
    )
    target_fpr: float = Field(
        0.001, gt=0, lt=1, description="Alert threshold: false-positive rate on held-out benign."
    )
    alerts_per_day: float | None = Field(
        None, gt=0, description="Alternative threshold rule: alert budget per day."
    )
    train_on: Literal["all", "benign"] = Field(
        "all", description="Fit on all training flows, or only those labelled benign."
    )
    test_fraction: float = Field(
        0.3, gt=0, lt=1, description="Share of the (latest) data held out for evaluation."
    )
    precision_k: int = Field(100, ge=1, description="k of precision@k.")
    detector: str = Field("isoforest", description="Detector step of the pipeline.")
    calibration_fraction: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Share of the training period (its latest flows) held out to set the threshold.",
    )
    threshold_method: Literal["quantile", "tail"] = Field(
        "quantile",
        description="Threshold rule on held-out benign scores: empirical quantile or Pareto tail fit.",
    )
    explain_top_k: int = Field(3, ge=1, description="Top contributing features reported per alert.")

    # --- serving ---------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Service bind address.")
    port: int = Field(8080, ge=1, le=65535, description="Service port.")
    workers: int = Field(1, ge=1, description="uvicorn worker processes.")
    model_uri: str = Field(
        f"models:/{DEFAULT_MODEL_NAME}@production", description="Model the service loads."
    )
    api_token: SecretStr | None = Field(
        None, description="Bearer token required by the API when set."
    )
    open_health_endpoints: bool = Field(
        True, description="Serve /healthz, /readyz and /metrics without the token."
    )
    max_flows_per_request: int = Field(10_000, ge=1, description="413 above this many flows.")
    max_body_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="413 above this body.")
    reload_interval_s: float = Field(
        30.0, ge=0, description="Registry poll interval for hot reload (0 disables)."
    )
    alert_sink: Literal["stdout", "file", "webhook", "none"] = Field(
        "stdout", description="Where alerts are written."
    )
    alert_format: Literal["ecs", "eve"] = Field("ecs", description="Alert record format.")
    alert_file: Path = Field(Path("data/alerts/alerts.jsonl"), description="File sink path.")
    alert_file_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Rotate the alert file beyond this size."
    )
    alert_webhook_url: str | None = Field(None, description="Webhook sink URL.")
    alert_queue_size: int = Field(10_000, ge=1, description="Webhook sink queue bound.")
    allowlist_path: Path | None = Field(
        None, description="YAML/JSON allow-list (CIDRs, ports, scanners) suppressing alerts."
    )

    # --- monitoring ------------------------------------------------------------
    prediction_log_dir: str | None = Field(
        "data/prediction-log", description="Prediction log root (local dir or s3:// prefix)."
    )
    prediction_log_sample_rate: float = Field(
        0.1, ge=0, le=1, description="Share of scored flows written to the prediction log."
    )
    prediction_log_max_bytes: int = Field(
        1024 * 1024 * 1024, ge=1024, description="Cap on the local prediction log size."
    )
    drift_p_threshold: float = Field(0.05, gt=0, lt=1, description="KS significance level.")
    drift_correction: Literal["bh", "bonferroni", "none"] = Field(
        "bh", description="Multiple-testing correction across features."
    )
    drift_psi_threshold: float = Field(
        0.1,
        ge=0,
        description="Minimum PSI for a significant categorical column to count as drifted.",
    )
    drift_wasserstein_threshold: float = Field(
        0.1,
        ge=0,
        description="Alternative effect size: minimum Wasserstein distance in reference std units.",
    )
    drift_monitor_interval_s: float = Field(
        60.0,
        ge=0,
        description="Service: seconds between drift checks of its rolling window (0: no drift gauges).",
    )
    drift_monitor_window: int = Field(
        5000, ge=10, description="Service: scored flows in the rolling drift window."
    )
    drift_monitor_min_flows: int = Field(
        500, ge=1, description="Service: new scored flows needed before the window is re-checked."
    )
    drift_monitor_exclude: list[str] = Field(
        default_factory=lambda: ["hour_sin", "hour_cos"],
        description="Service: features left out of the rolling check (JSON list); a minutes-long window cannot match a reference's time of day.",
    )
    monitor_window_h: float = Field(
        24.0, gt=0, description="`monitor run`: hours of prediction log checked per cycle."
    )
    monitor_report_dir: Path = Field(
        Path("reports/monitoring"), description="`monitor run`: where drift reports are written."
    )
    feedback_db_url: str = Field(
        "sqlite:///mlruns/feedback.db", description="SQLAlchemy URL of the feedback store."
    )
    retrain_on_drift: bool = Field(False, description="`monitor run` retrains on drift.")
    retrain_cooldown_h: float = Field(24.0, ge=0, description="Minimum hours between retrains.")
    lock_ttl_s: float = Field(6 * 3600.0, gt=0, description="Retrain lock expiry.")
    retrain_data_root: str | None = Field(
        None,
        description="Dated prefix layout (e.g. s3://sec-ai-raw/netflow/) `retrain --since/--until` reads.",
    )
    retrain_window_days: float = Field(
        7.0, gt=0, description="Days of data a drift-triggered retrain reads (ending now)."
    )
    retrain_min_rows: int = Field(
        1000, ge=3, description="`retrain` refuses windows with fewer valid flows."
    )
    retrain_max_attack_share: float = Field(
        0.5, gt=0, le=1, description="`retrain` refuses windows with a larger malicious share."
    )
    retrain_lock_db_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the retrain lock table; default: the feedback database.",
    )

    # --- batch scoring and preparation (nids score-batch / nids prepare) ---------
    batch_rows: int = Field(
        500_000, ge=1000, description="Rows per record batch streamed by the batch engines."
    )
    spark_master: str = Field(
        "local[2]", description="Spark master for --engine spark (local[N], spark://, k8s://)."
    )
    spark_partitions: int = Field(
        0,
        ge=0,
        description="Source-host buckets the Spark engine scores in parallel (0: from input size).",
    )

    # --- A/B testing -----------------------------------------------------------
    ab_config: Path | None = Field(None, description="A/B experiment config file (YAML/JSON).")

    debug: bool = Field(False, description="Show tracebacks for unexpected errors.")

    def with_overrides(self, **overrides: Any) -> Settings:
        """Return a copy with CLI flags applied (``None`` means 'flag not given')."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.model_copy(update=given) if given else self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
