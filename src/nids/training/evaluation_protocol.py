"""`nids evaluate`: the honest evaluation protocol, the baseline, detectors and ablations.

Protocol (see ``../shared/data/README.md`` and ``docs/evaluation.md``):

1. **Periods.** With ``--train`` the model is fitted on that capture and tested on all
   of ``--data`` (a later period). Without it, ``--data`` is split: ``temporal`` (the
   default) tests on the latest ``test_fraction`` of flows, ``random`` on a seeded
   random share (documented as optimistic: it mixes the test period into training).
2. **Training flows**: all of the training period (``--train-on all``, realistic
   contamination) or only its flows not labelled malicious (``--train-on benign``:
   benign and unlabelled background).
3. **Calibration.** The latest ``calibration_fraction`` of those training flows is held
   out; the alert threshold is chosen on its flows labelled benign only. The rest is
   fitted on.
4. **Test** flows never reach fitting or calibration; every model (ours, the plain
   numeric IsolationForest baseline, other detectors, ablations) uses the same parts,
   the same threshold rule and the same Scorer/metrics code as training.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from nids.data.schema import LABEL_MALICIOUS
from nids.errors import ConfigError, TrainingError
from nids.settings import Settings
from nids.training.metrics import malicious_labels
from nids.training.prepare import benign_only, flows_per_day, has_labels
from nids.training.split import random_split, temporal_split

Protocol = Literal["temporal", "random"]
TrainOn = Literal["benign", "all"]
#: Plain baseline of the issue: IsolationForest, 100 trees, raw numeric columns.
BASELINE_TREES = 100
#: Flows whose explanations are summarised in the report (the top of the ranking).
EXPLAINED_TOP = 100
ABLATION_METRICS = ("auc", "pr_auc", "precision_at_100", "recall", "false_positive_rate")


@dataclass
class EvalSplit:
    """The three disjoint parts of one evaluation."""

    fit: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame
    method: str
    flows_per_day: float | None

    def periods(self) -> dict[str, dict[str, Any]]:
        """Rows and time span of each part (for the report and the protocol tests)."""
        out: dict[str, dict[str, Any]] = {}
        for name in ("fit", "calibration", "test"):
            part: pd.DataFrame = getattr(self, name)
            ts = pd.to_datetime(part["ts"], utc=True)
            out[name] = {
                "rows": len(part),
                "start": ts.min().isoformat() if len(part) else None,
                "end": ts.max().isoformat() if len(part) else None,
            }
        return out


def not_malicious(df: pd.DataFrame) -> pd.DataFrame:
    """Flows not labelled malicious (benign and unlabelled background)."""
    labels = df["label"].astype("string").str.lower()
    return df[~labels.eq(LABEL_MALICIOUS).fillna(False)]


def split_for_evaluation(
    data: pd.DataFrame,
    *,
    train: pd.DataFrame | None,
    protocol: Protocol,
    train_on: TrainOn,
    test_fraction: float,
    calibration_fraction: float,
    seed: int,
) -> EvalSplit:
    """Fit / calibration / test parts per the protocol in the module docstring."""
    if protocol not in ("temporal", "random"):
        raise ConfigError(f"unknown protocol {protocol!r}", hint="temporal or random")
    if train is None:
        if protocol == "temporal":
            period, test = temporal_split(data, test_fraction)
        else:
            period, test = random_split(data, test_fraction, seed=seed)
    else:
        period, test = train, data
    labelled = has_labels(period)
    if train_on == "benign":
        if not labelled:
            raise TrainingError(
                "--train-on benign needs labelled training flows; none has one",
                hint="use --train-on all for unlabelled traffic",
            )
        # Hold out the latest of the *benign* traffic: in attack-heavy captures the last
        # hours of all flows may hold almost no benign flow to calibrate on.
        period = not_malicious(period)
    if len(period) < 2:
        raise TrainingError(f"only {len(period)} training flow(s)", hint="use more data")
    if protocol == "temporal":
        fit, calibration = temporal_split(period, calibration_fraction)
    else:
        fit, calibration = random_split(period, calibration_fraction, seed=seed + 1)
    if labelled:
        calibration = benign_only(calibration)
    if len(fit) < 2:
        raise TrainingError(f"only {len(fit)} flow(s) left to fit on", hint="use more data")
    if len(calibration) == 0:
        raise TrainingError(
            "no benign flow in the calibration part of the training period",
            hint="use more data or a larger calibration fraction",
        )
    return EvalSplit(fit, calibration, test, protocol, flows_per_day(period))


@dataclass
class ModelResult:
    """One model's outcome on the test period."""

    name: str
    metrics: dict[str, float]
    scores: np.ndarray
    threshold: float
    per_attack: dict[str, dict[str, float]] = field(default_factory=dict)
    top_reasons: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def baseline_pipeline(settings: Settings) -> Any:
    """The plain numeric-columns IsolationForest (100 trees) the issue measures against."""
    from sklearn.ensemble import IsolationForest
    from sklearn.pipeline import Pipeline

    from nids.features.baseline import NumericColumnsTransformer

    return Pipeline(
        [
            ("features", NumericColumnsTransformer()),
            ("detector", IsolationForest(n_estimators=BASELINE_TREES, random_state=settings.seed)),
        ]
    )


def per_attack_recall(test: pd.DataFrame, is_alert: np.ndarray) -> dict[str, dict[str, float]]:
    """Recall at the threshold per attack type (malicious flows only)."""
    y = malicious_labels(test)
    if y is None or "attack_type" not in test.columns:
        return {}
    mal = y == 1
    kinds = test["attack_type"].astype("string").fillna("unspecified").to_numpy(dtype=object)
    out: dict[str, dict[str, float]] = {}
    for kind in sorted(set(kinds[mal])):
        rows = mal & (kinds == kind)
        out[str(kind)] = {"flows": float(rows.sum()), "recall": float(is_alert[rows].mean())}
    return out


def top_reasons(scorer: Any, test: pd.DataFrame, scores: np.ndarray) -> dict[str, int]:
    """How often each feature is the top contributor among the highest-scored flows."""
    top = np.sort(np.argsort(-scores, kind="stable")[:EXPLAINED_TOP])
    if not top.size:
        return {}
    contrib = scorer.contributions(scorer.features(test.iloc[top]))
    names = np.asarray(scorer.feature_names, dtype=object)[contrib.argmax(axis=1)]
    values, counts = np.unique(names, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {str(values[i]): int(counts[i]) for i in order}


def evaluate_pipeline(
    name: str, pipeline: Any, split: EvalSplit, settings: Settings, *, explain: bool = True
) -> ModelResult:
    """Fit ``pipeline`` on the fit part, calibrate, and evaluate on the test part."""
    from nids.model.scorer import Scorer
    from nids.training.trainer import fit_pipeline

    started = time.perf_counter()
    fit_pipeline(pipeline, split.fit)
    fit_s = time.perf_counter() - started
    scorer = Scorer(pipeline, 0.0, top_k=settings.explain_top_k)
    return evaluate_scorer_on_split(name, scorer, split, settings, explain=explain, fit_s=fit_s)


def evaluate_scorer_on_split(
    name: str,
    scorer: Any,
    split: EvalSplit,
    settings: Settings,
    *,
    explain: bool = True,
    fit_s: float | None = None,
    calibrate: bool = True,
) -> ModelResult:
    """Calibrate ``scorer`` (unless it comes with its threshold) and evaluate it."""
    from nids.training.evaluate import evaluate_frame
    from nids.training.threshold import settings_threshold

    calibration_scores = scorer.score(split.calibration)
    if calibrate:
        scorer.threshold = settings_threshold(
            calibration_scores, settings, flows_per_day=split.flows_per_day
        )
    evaluation = evaluate_frame(scorer, split.test, k=settings.precision_k)
    metrics = dict(evaluation.metrics)
    metrics["threshold"] = scorer.threshold
    # The FPR the threshold was set for, as observed on the held-out benign flows.
    metrics["calibration_fpr"] = float(np.mean(calibration_scores > scorer.threshold))
    if fit_s is not None:
        metrics["fit_time_s"] = fit_s
    features = scorer.features_step
    details: dict[str, Any] = {"n_features": len(scorer.feature_names)}
    if hasattr(features, "home_networks_"):
        details["home_networks"] = list(features.home_networks_)
        details["home_networks_inferred"] = bool(features.home_networks_inferred_)
    return ModelResult(
        name=name,
        metrics=metrics,
        scores=evaluation.scores,
        threshold=scorer.threshold,
        per_attack=per_attack_recall(split.test, evaluation.is_alert),
        top_reasons=top_reasons(scorer, split.test, evaluation.scores) if explain else {},
        details=details,
    )


@dataclass
class EvaluationResult:
    """Everything `nids evaluate` reports."""

    split: EvalSplit
    sources: dict[str, str | None]
    settings: dict[str, Any]
    models: dict[str, ModelResult]
    ablation: dict[str, dict[str, float]] = field(default_factory=dict)
    primary: str = "ours"


Progress = Callable[[str], Any]


@contextmanager
def _stage(progress: Progress | None, text: str) -> Iterator[None]:
    if progress is not None:
        progress(text)
    yield


def run_evaluation(
    settings: Settings,
    data: pd.DataFrame,
    *,
    train: pd.DataFrame | None = None,
    sources: dict[str, str | None] | None = None,
    protocol: Protocol = "temporal",
    train_on: TrainOn = "benign",
    detectors: Sequence[str] = (),
    ablation: bool = False,
    scorer: Any = None,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Run the protocol on frames already read; see :func:`evaluate_command` for files.

    ``scorer`` (a loaded model's Scorer) is evaluated with its own threshold instead of
    fitting ``settings.detector``; the baseline is still fitted on the training part.
    """
    from nids.features import ALL_GROUPS
    from nids.model.pipeline import build_pipeline

    split = split_for_evaluation(
        data,
        train=train,
        protocol=protocol,
        train_on=train_on,
        test_fraction=settings.test_fraction,
        calibration_fraction=settings.calibration_fraction,
        seed=settings.seed,
    )
    models: dict[str, ModelResult] = {}
    with _stage(progress, f"ours ({settings.detector}) on {len(split.fit):,} flows"):
        if scorer is None:
            pipe = build_pipeline(settings, detector=settings.detector)
            models["ours"] = evaluate_pipeline("ours", pipe, split, settings)
        else:
            models["ours"] = evaluate_scorer_on_split(
                "ours", scorer, split, settings, calibrate=False
            )
    with _stage(progress, "plain numeric IsolationForest baseline"):
        models["baseline"] = evaluate_pipeline(
            "baseline", baseline_pipeline(settings), split, settings
        )
    for name in detectors:
        if name == settings.detector and scorer is None:
            continue
        with _stage(progress, f"detector {name}"):
            pipe = build_pipeline(settings, detector=name)
            models[f"detector:{name}"] = evaluate_pipeline(
                f"detector:{name}", pipe, split, settings
            )
    ablations: dict[str, dict[str, float]] = {}
    if ablation:
        for group in ALL_GROUPS:
            with _stage(progress, f"ablation: without {group}"):
                groups = [g for g in ALL_GROUPS if g != group]
                pipe = build_pipeline(settings, detector=settings.detector, feature_groups=groups)
                result = evaluate_pipeline(f"-{group}", pipe, split, settings, explain=False)
                ablations[group] = {
                    k: result.metrics[k] for k in ABLATION_METRICS if k in result.metrics
                }
    return EvaluationResult(
        split=split,
        sources=sources or {},
        settings={
            "protocol": protocol,
            "train_on": train_on,
            "detector": settings.detector if scorer is None else "loaded model",
            "seed": settings.seed,
            "target_fpr": settings.target_fpr,
            "alerts_per_day": settings.alerts_per_day,
            "threshold_method": settings.threshold_method,
            "test_fraction": settings.test_fraction if train is None else None,
            "calibration_fraction": settings.calibration_fraction,
            "precision_k": settings.precision_k,
            "n_estimators": settings.n_estimators,
            "max_samples": settings.max_samples,
        },
        models=models,
        ablation=ablations,
    )
