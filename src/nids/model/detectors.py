"""Unsupervised detectors: the pluggable second step of the model pipeline.

Every detector has the scikit-learn outlier API: ``fit(X)`` and ``score_samples(X)``
(LOWER = more abnormal, sklearn's convention; the Scorer negates it), plus
``feature_contributions(X) -> (n, k)`` (non-negative, rows sum to 1 where anything
stands out). Available:

- ``isoforest`` (default, the specification's model): scikit-learn's IsolationForest.
  It is returned unwrapped so serialisation trusts only sklearn types; its
  contributions come from the compiled forest (:func:`feature_contributions`).
- ``hbos``: Histogram-Based Outlier Score (Goldstein & Dengel 2012): per feature, the
  surprise ``-log p(bin)`` of the value's histogram bin relative to the most common
  bin, summed. Linear time, exact per-feature attributions, and strong on the many
  binary/low-cardinality network features (state, direction, protocol) where a
  forest's random splits waste depth.
- ``ensemble``: the mean of IsolationForest and HBOS scores, each standardised by
  its training distribution (median / inter-quartile range), so a flow must look
  abnormal to both views to rank first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest

from nids.errors import ConfigError, TrainingError

#: Registered model name per detector.
DETECTOR_MODEL_NAMES: dict[str, str] = {
    "isoforest": "nids-isoforest",
    "hbos": "nids-hbos",
    "ensemble": "nids-ensemble",
}
DETECTORS = tuple(DETECTOR_MODEL_NAMES)


def make_detector(name: str, *, seed: int, **params: Any) -> Any:
    """An unfitted detector by name; ``params`` are its constructor arguments.

    IsolationForest keywords (``n_estimators``, ``max_samples``) are accepted by every
    detector so callers can pass the training settings unconditionally.
    """
    forest = {k: params.pop(k) for k in ("n_estimators", "max_samples") if k in params}
    if name == "isoforest":
        return IsolationForest(random_state=seed, **forest, **params)
    if name == "hbos":
        return HBOS(**params)
    if name == "ensemble":
        return IsolationHBOSEnsemble(random_state=seed, **forest, **params)
    raise ConfigError(f"unknown detector {name!r}", hint=f"choose from {', '.join(DETECTORS)}")


def feature_contributions(detector: Any, x: np.ndarray) -> np.ndarray:
    """Per-row, per-feature contributions of any detector made here, shape (n, k)."""
    if isinstance(detector, IsolationForest):
        from nids.model.fastforest import CompiledForest

        return np.asarray(CompiledForest.from_isolation_forest(detector).attributions(x))
    return np.asarray(detector.feature_contributions(x), dtype=np.float64)


def _normalise_rows(values: np.ndarray) -> np.ndarray:
    total = values.sum(axis=1, keepdims=True)
    return np.divide(values, total, out=np.zeros_like(values), where=total > 0)


def _as_matrix(x: Any) -> np.ndarray:
    matrix = np.asarray(x, dtype=np.float64)
    if matrix.ndim != 2:
        raise TrainingError(f"detectors take a 2-D feature matrix, got shape {matrix.shape}")
    return np.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0)


class HBOS(OutlierMixin, BaseEstimator):
    """Histogram-Based Outlier Score with equal-width bins per feature.

    ``n_bins=None`` uses ``sqrt(n)`` clipped to [10, 50]. Values outside the training
    range count as an empty bin (as surprising as anything never seen).
    """

    def __init__(self, n_bins: int | None = None, alpha: float = 0.5) -> None:
        self.n_bins = n_bins
        self.alpha = alpha

    def fit(self, x: Any, y: Any = None) -> HBOS:
        """Learn one histogram per feature."""
        data = _as_matrix(x)
        n, k = data.shape
        if n < 2:
            raise TrainingError("HBOS needs at least 2 training rows")
        bins = self.n_bins or int(np.clip(np.sqrt(n), 10, 50))
        lo, hi = data.min(axis=0), data.max(axis=0)
        width = np.where(hi > lo, (hi - lo) / bins, 1.0)
        idx = self._bin_index(data, lo, width, bins)
        log_p = np.empty((k, bins + 1))  # last column: outside the training range
        for j in range(k):
            counts = np.bincount(idx[:, j], minlength=bins + 1).astype(np.float64)
            counts[bins] = 0.0
            p = (counts + self.alpha) / (n + self.alpha * (bins + 1))
            log_p[j] = np.log(p)
        # Surprise relative to the most common bin: 0 for the usual value.
        self.surprise_ = log_p.max(axis=1, keepdims=True) - log_p
        self.lo_, self.width_, self.bins_ = lo, width, bins
        self.n_features_in_ = k
        return self

    @staticmethod
    def _bin_index(data: np.ndarray, lo: np.ndarray, width: np.ndarray, bins: int) -> np.ndarray:
        pos = np.floor((data - lo) / width)
        inside = (pos >= 0) & (data <= lo + width * bins * (1 + 1e-12))
        idx = np.clip(pos, 0, bins - 1).astype(np.int64)
        return np.where(inside, idx, bins)

    def _surprise(self, x: Any) -> np.ndarray:
        data = _as_matrix(x)
        if data.shape[1] != self.n_features_in_:
            raise TrainingError(
                f"HBOS was fitted on {self.n_features_in_} features, got {data.shape[1]}"
            )
        idx = self._bin_index(data, self.lo_, self.width_, self.bins_)
        return np.take_along_axis(self.surprise_.T, idx, axis=0)

    def score_samples(self, x: Any) -> np.ndarray:
        """Negated total surprise (lower = more abnormal)."""
        return -self._surprise(x).sum(axis=1)

    def feature_contributions(self, x: Any) -> np.ndarray:
        """Each feature's share of the row's surprise."""
        return _normalise_rows(self._surprise(x))


class IsolationHBOSEnsemble(OutlierMixin, BaseEstimator):
    """Mean of robustly standardised IsolationForest and HBOS scores."""

    def __init__(
        self,
        n_estimators: int = 200,
        max_samples: int | str = 512,
        n_bins: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.n_bins = n_bins
        self.random_state = random_state

    def fit(self, x: Any, y: Any = None) -> IsolationHBOSEnsemble:
        """Fit both members and remember how each one's training scores spread."""
        data = _as_matrix(x)
        max_samples = (
            min(self.max_samples, len(data))
            if isinstance(self.max_samples, int)
            else self.max_samples
        )
        self.iforest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=max_samples,
            random_state=self.random_state,
        ).fit(data)
        self.hbos_ = HBOS(n_bins=self.n_bins).fit(data)
        stats = []
        for member in (self.iforest_, self.hbos_):
            train = member.score_samples(data)
            q1, median, q3 = np.percentile(train, [25, 50, 75])
            stats.append((median, max(q3 - q1, 1e-9)))
        self.scale_ = np.asarray(stats)
        self.n_features_in_ = data.shape[1]
        return self

    def score_samples(self, x: Any) -> np.ndarray:
        """Mean standardised score (lower = more abnormal)."""
        data = _as_matrix(x)
        parts = [
            (member.score_samples(data) - med) / iqr
            for member, (med, iqr) in zip((self.iforest_, self.hbos_), self.scale_, strict=True)
        ]
        return np.mean(parts, axis=0)

    def feature_contributions(self, x: Any) -> np.ndarray:
        """Mean of the members' normalised contributions."""
        data = _as_matrix(x)
        forest = feature_contributions(self.iforest_, data)
        return _normalise_rows(0.5 * forest + 0.5 * self.hbos_.feature_contributions(data))
