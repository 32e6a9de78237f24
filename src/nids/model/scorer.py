"""The Scorer: the single code path that turns flows into scores, alerts and reasons.

Evaluation, batch scoring, the MLflow pyfunc and the service all call it, so a flow
gets the same score everywhere. Scores follow the alerting convention: HIGHER = more
anomalous (the negated sklearn ``score_samples``). A flow is an alert when its score is
strictly above the calibrated threshold.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from nids.errors import SchemaError
from nids.features.columns import Flows, flow_records
from nids.model.pipeline import DETECTOR_STEP, FEATURES_STEP

Explain = Literal["alerts", "all", "none"]
OUTPUT_COLUMNS = ["community_id", "score", "is_alert", "threshold", "top_features"]


def _is_isolation_forest(est: Any) -> bool:
    from sklearn.ensemble import IsolationForest

    return isinstance(est, IsolationForest)


class Scorer:
    """Scores canonical flows (frames or columnar mappings) with a fitted pipeline and a threshold."""

    def __init__(self, pipeline: Any, threshold: float, *, top_k: int = 3) -> None:
        self.pipeline = pipeline
        self.threshold = float(threshold)
        self.top_k = int(top_k)
        self.features_step = pipeline.named_steps[FEATURES_STEP]
        self.detector = pipeline.named_steps[DETECTOR_STEP]
        self.feature_names: list[str] = [str(n) for n in self.features_step.get_feature_names_out()]
        self._compiled: Any = None
        if _is_isolation_forest(self.detector):
            # Same scores as sklearn, ~3x faster in batch and ~100x for one row.
            from nids.model.fastforest import CompiledForest

            self._compiled = CompiledForest.from_isolation_forest(self.detector)

    # -- matrices ----------------------------------------------------------------
    def features(self, flows: Flows, *, state: Any = None) -> np.ndarray:
        """Feature matrix of a flow frame or columnar mapping (batch mode when ``state`` is None)."""
        return np.asarray(self.features_step.transform(flows, state=state), dtype=np.float64)

    def score_features(self, x: np.ndarray) -> np.ndarray:
        """Anomaly scores of a feature matrix (higher = more anomalous)."""
        if len(x) == 0:
            return np.zeros(0, dtype=np.float64)
        raw = (
            self._compiled.score_samples(x)
            if self._compiled is not None
            else self.detector.score_samples(x)
        )
        return -np.asarray(raw, dtype=np.float64)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-row, per-feature contributions to the score, shape (n, k)."""
        if len(x) == 0:
            return np.zeros((0, len(self.feature_names)), dtype=np.float64)
        if self._compiled is not None:
            return np.asarray(self._compiled.attributions(x), dtype=np.float64)
        return np.asarray(self.detector.feature_contributions(x), dtype=np.float64)

    # -- flows ---------------------------------------------------------------------
    def score(self, flows: Flows, *, state: Any = None) -> np.ndarray:
        """Anomaly score per flow (higher = more anomalous), in input order."""
        return self.score_features(self.features(flows, state=state))

    def predict(
        self, flows: Flows, *, state: Any = None, explain: Explain = "alerts"
    ) -> Prediction:
        """Features, scores, alert flags and reasons of a flow frame or columnar mapping.

        ``explain`` chooses which rows get reasons: ``alerts`` (default, cheap),
        ``all`` or ``none``; the others get ``[]``.
        """
        if explain not in ("alerts", "all", "none"):
            raise SchemaError(f"explain must be alerts, all or none, got {explain!r}")
        x = self.features(flows, state=state)
        scores = self.score_features(x)
        is_alert = scores > self.threshold
        top: list[list[dict[str, Any]]] = [[] for _ in range(len(scores))]
        if explain != "none":
            rows = np.flatnonzero(is_alert) if explain == "alerts" else np.arange(len(scores))
            if rows.size:
                for row, items in zip(rows.tolist(), self._explain(flows, x, rows), strict=True):
                    top[row] = items
        return Prediction(x, scores, is_alert, self.threshold, top)

    def predict_frame(
        self, flows: Flows, *, state: Any = None, explain: Explain = "alerts"
    ) -> pd.DataFrame:
        """Per flow: community_id, score, is_alert, threshold and top_features (JSON).

        ``explain`` as in :meth:`predict`; unexplained rows get ``"[]"``.
        """
        pred = self.predict(flows, state=state, explain=explain)
        n = len(pred.scores)
        top = np.array([json.dumps(t) if t else "[]" for t in pred.top_features], dtype=object)
        if isinstance(flows, pd.DataFrame):
            index = flows.index
            ids = (
                flows["community_id"].astype(object).to_numpy()
                if "community_id" in flows.columns
                else np.full(n, None, dtype=object)
            )
        else:
            index = pd.RangeIndex(n)
            column = {"community_id": flows["community_id"]} if "community_id" in flows else {}
            ids = np.array(
                [r.get("community_id") for r in flow_records(column, np.arange(n))]
                if column
                else [None] * n,
                dtype=object,
            )
        return pd.DataFrame(
            {
                "community_id": pd.array(ids, dtype="str"),
                "score": pred.scores,
                "is_alert": pred.is_alert,
                "threshold": np.full(n, self.threshold),
                "top_features": pd.array(top, dtype="str"),
            },
            index=index,
        )

    def _explain(self, flows: Flows, x: np.ndarray, rows: np.ndarray) -> list[list[dict[str, Any]]]:
        from nids.features import describe_feature

        contrib = self.contributions(x[rows])
        k = min(self.top_k, len(self.feature_names))
        # Stable order on ties so the same flow always gets the same reasons.
        order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
        records = flow_records(flows, rows)
        out = []
        for i, row in enumerate(rows):
            flow: Mapping[str, Any] = records[i]
            items = []
            for j in order[i]:
                name = self.feature_names[j]
                value = float(x[row, j])
                items.append(
                    {
                        "feature": name,
                        "value": value,
                        "contribution": round(float(contrib[i, j]), 6),
                        "reason": describe_feature(name, value, flow),
                    }
                )
            out.append(items)
        return out


@dataclass
class Prediction:
    """What :meth:`Scorer.predict` found for a batch of flows (rows in input order)."""

    features: np.ndarray  # (n, k) feature matrix the scores came from
    scores: np.ndarray  # higher = more anomalous
    is_alert: np.ndarray  # scores strictly above the threshold
    threshold: float
    top_features: list[list[dict[str, Any]]]  # reasons; [] for unexplained rows

    def rows(self, start: int, stop: int) -> Prediction:
        """The prediction of rows ``start:stop`` (views, not copies)."""
        return Prediction(
            self.features[start:stop],
            self.scores[start:stop],
            self.is_alert[start:stop],
            self.threshold,
            self.top_features[start:stop],
        )
