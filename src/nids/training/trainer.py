"""`nids train`: fit the pipeline, calibrate the alert threshold, evaluate, log to MLflow.

Everything a later reader needs is in the run: parameters (all hyper-parameters and the
seed), the dataset lineage (``mlflow.data`` inputs with source, digest, schema, rows and
time span), tags (training date, dataset digest, git commit, package and feature-set
versions, the evaluation period), metrics, plots and the model itself. A failure after
the run started ends it as FAILED and registers nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nids.errors import ConfigError, NidsError, ServiceUnavailableError, TrainingError
from nids.settings import Settings
from nids.training.prepare import Prepared, prepare

#: MLflow's HTTP defaults retry for minutes against a dead server; fail in seconds
#: instead (only when the user has not chosen values).
FAIL_FAST_HTTP = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}
#: Rows of the test period whose contributions are averaged for the contribution plot.
CONTRIBUTION_ROWS = 1000
#: Fitted flows scored for the reference profile's training-score distribution (a seeded
#: uniform sample above this). Drift reads only its 5,000-score sample and decile
#: summary; by the DKW inequality any quantile or histogram share of 100,000 sampled
#: scores is within 0.62 percentage points of the full pass with 99.9 % confidence.
PROFILE_SCORE_ROWS = 100_000


@dataclass
class TrainResult:
    """What a training run produced."""

    run_id: str
    experiment_id: str
    model_uri: str
    metrics: dict[str, float]
    threshold: float
    tracking_uri: str
    run_url: str
    params: dict[str, str] = field(default_factory=dict)
    registered: Any = None  # nids.registry.VersionInfo when --register


@contextmanager
def fail_fast_http() -> Iterator[None]:
    """Apply :data:`FAIL_FAST_HTTP` where unset, restoring the environment afterwards."""
    added = [key for key in FAIL_FAST_HTTP if key not in os.environ]
    for key in added:
        os.environ[key] = FAIL_FAST_HTTP[key]
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


@contextmanager
def _stage(progress: Any, description: str) -> Iterator[None]:
    task = progress.add_task(description, total=1)
    yield
    progress.update(task, completed=1)


def validated(settings: Settings) -> Settings:
    """Re-check a settings copy with overrides applied (``model_copy`` does not validate)."""
    from pydantic import ValidationError

    try:
        Settings.model_validate(settings.model_dump())
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise ConfigError(f"invalid value for {field}: {error['msg']}") from None
    return settings


def load_flows(settings: Settings, data: str) -> pd.DataFrame:
    """Read ``data`` with the configured readers (any format/location they take)."""
    from nids.data import read_flows

    return read_flows(
        data,
        on_error=settings.on_error,
        quarantine_dir=settings.quarantine_dir,
        s3_endpoint_url=settings.s3_endpoint_url,
    )


def fit_pipeline(pipeline: Any, fit_df: pd.DataFrame) -> np.ndarray:
    """Fit features then detector on ``fit_df``; return the fit feature matrix.

    Refuses matrices the detector cannot learn from (non-finite values, or every
    feature constant) with a :class:`TrainingError` naming the problem.
    """
    features = pipeline.named_steps["features"]
    detector = pipeline.named_steps["detector"]
    x = np.asarray(features.fit(fit_df).transform(fit_df), dtype=np.float64)
    names = [str(n) for n in features.get_feature_names_out()]
    bad = ~np.isfinite(x).all(axis=0)
    if bad.any():
        raise TrainingError(f"non-finite feature values in: {', '.join(np.array(names)[bad])}")
    if x.shape[0] < 2 or np.all(np.ptp(x, axis=0) == 0):
        raise TrainingError(
            f"all {x.shape[1]} features are constant over the {x.shape[0]} training flows: "
            "there is no variation for the detector to learn",
            hint="train on more, or more varied, traffic",
        )
    params = detector.get_params() if hasattr(detector, "get_params") else {}
    if isinstance(params.get("max_samples"), int) and params["max_samples"] > len(x):
        # sklearn would warn and clamp; clamp explicitly so the logged value is true.
        detector.set_params(max_samples=len(x))
    detector.fit(x)
    return x


def _params(settings: Settings, pipeline: Any, data: str, prepared: Prepared) -> dict[str, str]:
    detector = pipeline.named_steps["detector"]
    params: dict[str, Any] = {
        "data": data,
        "seed": settings.seed,
        "detector": settings.detector,
        "train_on": settings.train_on,
        "test_fraction": settings.test_fraction,
        "calibration_fraction": settings.calibration_fraction,
        "target_fpr": settings.target_fpr,
        "alerts_per_day_budget": settings.alerts_per_day,
        "threshold_method": settings.threshold_method,
        "precision_k": settings.precision_k,
        "max_train_rows": settings.max_train_rows,
        "home_networks": ",".join(settings.home_networks),
        "explain_top_k": settings.explain_top_k,
        "split_method": prepared.split_method,
        "fit_rows": len(prepared.fit),
        "calibration_rows": len(prepared.calibration),
    }
    detector_params = detector.get_params(deep=False) if hasattr(detector, "get_params") else {}
    for key, value in detector_params.items():
        params[f"detector.{key}"] = value
    return {k: str(v) for k, v in params.items()}


def _run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    if tracking_uri.startswith(("http://", "https://")):
        return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return f"runs:/{run_id} (store {tracking_uri})"


def profile_train_scores(scorer: Any, x_fit: np.ndarray, seed: int) -> np.ndarray:
    """Scores of (at most :data:`PROFILE_SCORE_ROWS` seeded sampled rows of) the fit matrix."""
    if len(x_fit) <= PROFILE_SCORE_ROWS:
        return np.asarray(scorer.score_features(x_fit))
    rows = np.random.default_rng(seed).choice(len(x_fit), size=PROFILE_SCORE_ROWS, replace=False)
    return np.asarray(scorer.score_features(x_fit[np.sort(rows)]))


def _mean_contributions(scorer: Any, x_test: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Mean contributions over the highest-scored test flows, from their scored features."""
    top = np.argsort(-scores, kind="stable")[:CONTRIBUTION_ROWS]
    return np.asarray(scorer.contributions(x_test[np.sort(top)]).mean(axis=0), dtype=np.float64)


def _fit_and_log(
    settings: Settings, data: str, df: pd.DataFrame, prepared: Prepared, progress: Any
) -> tuple[str, float, dict[str, float], dict[str, str]]:
    """Everything inside the run; returns (model_uri, threshold, metrics, params)."""
    import mlflow

    from nids.features import FEATURE_SET_VERSION
    from nids.model.pipeline import build_pipeline, detector_name
    from nids.model.pyfunc import log_nids_model
    from nids.model.scorer import Scorer
    from nids.monitoring.reference import build_reference_profile
    from nids.training.evaluate import evaluate_scores
    from nids.training.lineage import frame_digest, log_datasets, run_tags
    from nids.training.plots import log_evaluation_plots
    from nids.training.threshold import settings_threshold

    pipeline = build_pipeline(settings)
    with _stage(progress, f"fit on {len(prepared.fit):,} flows"):
        started = time.perf_counter()
        x_fit = fit_pipeline(pipeline, prepared.fit)
        training_time = time.perf_counter() - started
    params = _params(settings, pipeline, data, prepared)
    mlflow.log_params(params)
    digest = frame_digest(df)
    mlflow.set_tags(
        run_tags(
            source=data,
            digest=digest,
            feature_set_version=FEATURE_SET_VERSION,
            detector=detector_name(pipeline),
            split_method=prepared.split_method,
            test=prepared.test,
        )
    )
    log_datasets(data, {"training": prepared.fit, "testing": prepared.test})

    with _stage(progress, f"calibrate on {len(prepared.calibration):,} held-out benign flows"):
        scorer = Scorer(pipeline, 0.0, top_k=settings.explain_top_k)
        calibration_scores = scorer.score(prepared.calibration)
        scorer.threshold = settings_threshold(
            calibration_scores, settings, flows_per_day=prepared.flows_per_day
        )
    with _stage(progress, f"evaluate on {len(prepared.test):,} later flows"):
        # The test matrix is kept: the contribution plot explains the flows as scored.
        started = time.perf_counter()
        x_test = scorer.features(prepared.test)
        test_scores = scorer.score_features(x_test)
        evaluation = evaluate_scores(
            prepared.test,
            test_scores,
            scorer.threshold,
            k=settings.precision_k,
            scoring_s=time.perf_counter() - started,
        )
    metrics = dict(evaluation.metrics)
    metrics.update(
        {
            "training_time_s": training_time,
            "train_rows": float(len(prepared.fit)),
            "calibration_rows": float(len(prepared.calibration)),
            "test_rows": float(len(prepared.test)),
            "threshold": scorer.threshold,
            "calibration_fpr": float(np.mean(calibration_scores > scorer.threshold)),
        }
    )
    mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})

    with _stage(progress, "log model, profile and plots"):
        profile = build_reference_profile(
            prepared.fit,
            x_fit,
            scorer.feature_names,
            profile_train_scores(scorer, x_fit, settings.seed),
            calibration_scores,
            seed=settings.seed,
        )
        info = log_nids_model(
            pipeline,
            scorer.threshold,
            input_example=prepared.test.head(5),
            reference_profile=profile,
            home_networks=settings.home_networks,
            feature_set_version=FEATURE_SET_VERSION,
            detector=detector_name(pipeline),
            top_k=settings.explain_top_k,
        )
        labels = (
            prepared.test["label"].astype("string").fillna("unknown").to_numpy(dtype=object)
            if evaluation.y_true is not None
            else None
        )
        log_evaluation_plots(
            scores=evaluation.scores,
            y_true=evaluation.y_true,
            labels=labels,
            threshold=scorer.threshold,
            feature_names=scorer.feature_names,
            mean_contrib=_mean_contributions(scorer, x_test, evaluation.scores),
        )
    return info.model_uri, scorer.threshold, metrics, params


def _service_error(settings: Settings, exc: BaseException) -> NidsError | None:
    """A tracking-store failure as a user-facing error (None: not a store failure)."""
    from mlflow.exceptions import MlflowException
    from requests.exceptions import RequestException

    uri = settings.mlflow_tracking_uri
    if isinstance(exc, MlflowException):
        return ServiceUnavailableError(f"MLflow tracking store {uri} failed: {exc.message}")
    if isinstance(exc, RequestException | OSError):
        return ServiceUnavailableError(f"MLflow tracking store {uri} is unreachable: {exc}")
    return None


def train(
    settings: Settings,
    data: str,
    *,
    frame: pd.DataFrame | None = None,
    register: bool = False,
    progress: bool = True,
    console: Any = None,
    **overrides: Any,
) -> TrainResult:
    """Train, evaluate and log one model from ``data``; optionally register it.

    ``overrides`` are settings fields (CLI flags); ``frame`` skips reading when the
    caller already holds the flows (``data`` still names their source for lineage).
    """
    import mlflow
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from nids.registry.store import ensure_experiment

    settings = validated(settings.with_overrides(**overrides))
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn())
    with (
        fail_fast_http(),
        Progress(
            *columns, TimeElapsedColumn(), console=console, disable=not progress, transient=False
        ) as bar,
    ):
        with _stage(bar, f"load flows from {data}"):
            df = frame if frame is not None else load_flows(settings, data)
        prepared = prepare(df, settings, source=data)
        with _stage(bar, f"connect to MLflow at {settings.mlflow_tracking_uri}"):
            experiment_id = ensure_experiment(settings)
            try:
                run = mlflow.start_run(experiment_id=experiment_id)
            except Exception as exc:
                raise (_service_error(settings, exc) or exc) from exc
        run_id = run.info.run_id
        try:
            model_uri, threshold, metrics, params = _fit_and_log(settings, data, df, prepared, bar)
            registered = None
            if register:
                from nids.registry import register_model_version

                with _stage(bar, f"register as {settings.model_name}"):
                    registered = register_model_version(settings, run_id, name=settings.model_name)
            mlflow.end_run(status="FINISHED")
        except BaseException as exc:
            with suppress(Exception):  # the store may be the thing that failed
                mlflow.end_run(status="FAILED")
            translated = None if isinstance(exc, NidsError) else _service_error(settings, exc)
            if translated is not None:
                raise translated from exc
            raise
    return TrainResult(
        run_id=run_id,
        experiment_id=experiment_id,
        model_uri=model_uri,
        metrics=metrics,
        threshold=threshold,
        tracking_uri=settings.mlflow_tracking_uri,
        run_url=_run_url(settings.mlflow_tracking_uri, experiment_id, run_id),
        params=params,
        registered=registered,
    )
