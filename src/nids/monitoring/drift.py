"""Drift detection: a current window of flows against a model's reference profile.

Per column (engineered features, raw numeric flow columns, categorical flow columns,
the anomaly score and the alert rate) one test gives a p-value: two-sample KS
against the reference sample for numeric columns, chi-square on category counts,
an exact binomial test for the alert rate. All p-values of a window form one family
corrected for multiple testing (Benjamini-Hochberg by default).

**A column drifted** when its corrected p-value is below ``p_threshold`` AND its
effect size reaches a threshold: the Wasserstein distance in reference standard
deviations >= ``wasserstein_threshold`` for numeric columns and the score (PSI is
reported for them but not used: it is not shift-robust where a feature has point
masses); PSI >= ``psi_threshold`` for categorical columns; a rate ratio >=
``alert_ratio`` (either direction) for the alert rate.

**The window drifted** when at least one column drifted. The score and the alert
rate are columns like any other, so a shift the features miss but the model sees
still counts. Scores and the reference alert rate come from the training flows'
scores (the population the feature reference describes).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from nids.errors import DataError
from nids.monitoring import stats
from nids.monitoring.reference import OTHER_CATEGORY, category_values, validate_profile

WINDOW_RULE = (
    "window drifted = at least one column (feature, raw column, category, score or "
    "alert rate) with corrected p < p_threshold AND effect size at its threshold "
    "(Wasserstein for numeric columns, PSI for categories, ratio for the alert rate)"
)


def detect_drift(train_data: Any, prod_data: Any, threshold: float = 0.05) -> tuple[bool, float]:
    """Detect drift using Kolmogorov-Smirnov test (the MLOps guide's function, verbatim).

    One uncorrected test with no effect size: kept for compatibility; use
    :func:`compare_to_reference` for decisions.
    """
    statistic, p_value = ks_2samp(train_data, prod_data)  # noqa: RUF059 (verbatim)

    if p_value < threshold:
        return True, p_value
    return False, p_value


@dataclass
class ColumnDrift:
    """The drift verdict for one column of the window."""

    name: str
    kind: str  # feature | raw | cat | score | alert_rate
    test: str  # ks | chi2 | binomial
    statistic: float
    p_value: float
    n_reference: int
    n_current: int
    reference_mean: float | None
    current_mean: float | None
    psi: float | None = None
    wasserstein: float | None = None
    p_adjusted: float = 1.0
    significant: bool = False
    large: bool = False
    drifted: bool = False


@dataclass
class DriftResult:
    """Per-column verdicts and the window verdict, JSON-serialisable via ``to_dict``."""

    columns: list[ColumnDrift]
    drifted: bool
    n_current: int
    params: dict[str, Any]
    prediction_mean: float | None = None
    alert_rate: float | None = None
    reference_alert_rate: float | None = None
    rule: str = WINDOW_RULE
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the columns that drifted."""
        return [c.name for c in self.columns if c.drifted]

    def column(self, name: str) -> ColumnDrift:
        """The verdict of one column by name."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (non-finite numbers become ``None``)."""
        data = asdict(self)
        data["drifted_columns"] = self.drifted_columns
        return _finite(data)

    def to_json(self) -> str:
        """The result as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


class Reference:
    """A profile unpacked into numpy arrays once, for comparing many windows."""

    def __init__(self, profile: Mapping[str, Any]) -> None:
        validate_profile(profile)
        self.profile = profile
        self.feature_names: list[str] = list(profile.get("feature_names", []))
        columns = profile["sample"]["columns"]
        # Sorted once: every window's KS/Wasserstein pass reuses them.
        self.samples = {k: np.sort(np.asarray(v, dtype=float)) for k, v in columns.items()}
        self.stds = {k: float(v.std()) for k, v in self.samples.items()}
        self.numeric = dict(profile["numeric"])
        self.categorical = dict(profile["categorical"])
        # Scores of the training flows: the same population as the feature sample
        # (the holdout is often benign-only calibration data, not live traffic's mix).
        train = profile["scores"]["train"]
        self.score_sample = np.sort(np.asarray(train["sample"], dtype=float))
        self.score_std = float(self.score_sample.std())
        self.score_summary = train

    def reference_alert_rate(self, threshold: float) -> float:
        """Share of the training flows' scores above the model's alert threshold."""
        return float(np.mean(self.score_sample > threshold))


def numeric_values(current: pd.DataFrame, key: str) -> np.ndarray | None:
    """Finite values of profile column ``key`` (``feature:x``/``raw:x``) in a window frame."""
    kind, column = key.split(":", 1)
    if key in current.columns:
        series = current[key]
    elif column in current.columns and not (kind == "feature" and column in _RAW_NAMES):
        series = current[column]
    else:
        return None
    try:  # the common case, numeric columns: no per-value parsing
        values = series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values[np.isfinite(values)]


_RAW_NAMES = {"duration", "src_bytes", "dst_bytes", "src_pkts", "dst_pkts", "src_port", "dst_port"}


def _numeric_check(
    name: str, kind: str, ref: np.ndarray, cur: np.ndarray, edges: np.ndarray, std: float
) -> ColumnDrift:
    statistic, p_value, distance = stats.compare_sorted(ref, cur)
    return ColumnDrift(
        name=name,
        kind=kind,
        test="ks",
        statistic=statistic,
        p_value=p_value,
        n_reference=int(ref.size),
        n_current=int(cur.size),
        reference_mean=float(ref.mean()),
        current_mean=float(cur.mean()),
        psi=stats.psi(stats.histogram(ref, edges), stats.histogram(cur, edges)),
        wasserstein=stats.normalised_wasserstein(distance, std),
    )


def _categorical_check(name: str, summary: Mapping[str, Any], column: pd.Series) -> ColumnDrift:
    categories = list(summary["categories"])
    ref_counts = np.array([*summary["counts"], summary["other"]], dtype=float)
    values = category_values(column)
    known = values.where(values.isin(categories), OTHER_CATEGORY)
    counted = known.value_counts()
    cur_counts = np.array([counted.get(c, 0) for c in [*categories, OTHER_CATEGORY]], dtype=float)
    statistic, p_value = stats.chi2_test(ref_counts, cur_counts)
    return ColumnDrift(
        name=name,
        kind="cat",
        test="chi2",
        statistic=statistic,
        p_value=p_value,
        n_reference=int(ref_counts.sum()),
        n_current=int(cur_counts.sum()),
        reference_mean=None,
        current_mean=None,
        psi=stats.psi(ref_counts, cur_counts),
    )


def as_frame(current: pd.DataFrame | np.ndarray, reference: Reference) -> pd.DataFrame:
    """A window as a frame (a feature matrix gets ``feature:<name>`` columns)."""
    if isinstance(current, pd.DataFrame):
        return current
    x = np.asarray(current, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(reference.feature_names):
        raise DataError(
            f"current feature matrix has shape {x.shape}; the reference has "
            f"{len(reference.feature_names)} features"
        )
    return pd.DataFrame(x, columns=[f"feature:{n}" for n in reference.feature_names])


def compare_to_reference(
    profile: Mapping[str, Any] | Reference,
    current: pd.DataFrame | np.ndarray,
    *,
    scores: np.ndarray | None = None,
    is_alert: np.ndarray | None = None,
    threshold: float | None = None,
    p_threshold: float = 0.05,
    correction: stats.Correction = "bh",
    psi_threshold: float = 0.1,
    wasserstein_threshold: float = 0.1,
    alert_ratio: float = 2.0,
    exclude: Collection[str] = (),
) -> DriftResult:
    """Compare a current window with a reference profile (see the module doc for the rule).

    ``current`` is a frame whose columns are matched by name (``feature:<name>`` or the
    plain feature name for engineered features; flow column names for raw and
    categorical columns), or a feature matrix in the profile's feature order.
    ``scores`` (higher = more anomalous) and ``is_alert`` (or ``threshold``) add the
    score-distribution and alert-rate checks. ``exclude`` names columns to skip
    (profile keys, ``score``, ``alert_rate``).
    """
    reference = profile if isinstance(profile, Reference) else Reference(profile)
    frame = as_frame(current, reference)
    if len(frame) == 0:
        raise DataError("the current window holds no flows")
    checks: list[ColumnDrift] = []
    for key, summary in reference.numeric.items():
        if key in exclude:
            continue
        kind = key.split(":", 1)[0]
        cur = numeric_values(frame, key)
        ref = reference.samples.get(key)
        if cur is None or ref is None or cur.size == 0 or ref.size == 0:
            continue
        edges = np.asarray(summary["edges"], dtype=float)
        checks.append(_numeric_check(key, kind, ref, cur, edges, reference.stds[key]))
    for key, summary in reference.categorical.items():
        if summary["column"] in frame.columns and key not in exclude:
            checks.append(_categorical_check(key, summary, frame[summary["column"]]))
    prediction_mean = alert_rate = ref_alert_rate = None
    if scores is not None and "score" not in exclude:
        s = np.asarray(scores, dtype=float)
        s = s[np.isfinite(s)]
        if s.size:
            prediction_mean = float(s.mean())
            ref = reference.score_sample
            edges = np.asarray(reference.score_summary["edges"], dtype=float)
            checks.append(_numeric_check("score", "score", ref, s, edges, reference.score_std))
    if is_alert is None and scores is not None and threshold is not None:
        is_alert = np.asarray(scores, dtype=float) > threshold
    if is_alert is not None and threshold is not None and "alert_rate" not in exclude:
        alerts = np.asarray(is_alert, dtype=bool)
        alert_rate = float(alerts.mean()) if alerts.size else 0.0
        ref_alert_rate = reference.reference_alert_rate(threshold)
        p_value = stats.binomial_rate_test(ref_alert_rate, int(alerts.sum()), int(alerts.size))
        check = ColumnDrift(
            name="alert_rate",
            kind="alert_rate",
            test="binomial",
            statistic=alert_rate,
            p_value=p_value,
            n_reference=int(reference.score_sample.size),
            n_current=int(alerts.size),
            reference_mean=ref_alert_rate,
            current_mean=alert_rate,
        )
        checks.append(check)
    _decide(checks, p_threshold, correction, psi_threshold, wasserstein_threshold, alert_ratio)
    return DriftResult(
        columns=checks,
        drifted=any(c.drifted for c in checks),
        n_current=len(frame),
        params={
            "p_threshold": p_threshold,
            "correction": correction,
            "psi_threshold": psi_threshold,
            "wasserstein_threshold": wasserstein_threshold,
            "alert_ratio": alert_ratio,
            "n_tests": len(checks),
        },
        prediction_mean=prediction_mean,
        alert_rate=alert_rate,
        reference_alert_rate=ref_alert_rate,
    )


def _decide(
    checks: list[ColumnDrift],
    p_threshold: float,
    correction: stats.Correction,
    psi_threshold: float,
    wasserstein_threshold: float,
    alert_ratio: float,
) -> None:
    adjusted = stats.adjust_pvalues(np.array([c.p_value for c in checks]), correction)
    for check, p_adj in zip(checks, adjusted, strict=True):
        check.p_adjusted = float(p_adj)
        check.significant = bool(p_adj < p_threshold)
        if check.kind == "alert_rate":
            ref = max(check.reference_mean or 0.0, 1e-6)
            cur = max(check.current_mean or 0.0, 1e-6)
            check.large = max(cur / ref, ref / cur) >= alert_ratio
        elif check.kind == "cat":
            check.large = (check.psi or 0.0) >= psi_threshold
        else:
            # Wasserstein, not PSI: a feature with a point mass (0 for most flows)
            # shifted by a hair moves that mass across a bin edge, and PSI explodes.
            check.large = (check.wasserstein or 0.0) >= wasserstein_threshold
        check.drifted = check.significant and check.large
