"""The one model object: a scikit-learn Pipeline of network features and a detector."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from nids.settings import Settings

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

FEATURES_STEP = "features"
DETECTOR_STEP = "detector"


def make_detector_for(settings: Settings, name: str) -> Any:
    """The named detector configured from ``settings`` (trees, sub-sample size, seed)."""
    from nids.model.detectors import make_detector

    # Every detector accepts the forest keywords (the ensemble uses them too).
    return make_detector(
        name,
        seed=settings.seed,
        n_estimators=settings.n_estimators,
        max_samples=settings.max_samples,
    )


def build_pipeline(
    settings: Settings,
    *,
    detector: str | Any | None = None,
    feature_groups: Iterable[str] | None = None,
) -> Pipeline:
    """Unfitted ``Pipeline([("features", FlowFeatureTransformer), ("detector", est)])``.

    ``detector`` is a detector name (default ``settings.detector``) or an estimator
    with sklearn-style ``fit``/``score_samples``.
    """
    from sklearn.pipeline import Pipeline

    from nids.features import build_feature_transformer

    chosen = settings.detector if detector is None else detector
    estimator = make_detector_for(settings, chosen) if isinstance(chosen, str) else chosen
    features = build_feature_transformer(
        home_networks=settings.home_networks, groups=feature_groups
    )
    return Pipeline([(FEATURES_STEP, features), (DETECTOR_STEP, estimator)])


def detector_name(pipeline: Pipeline) -> str:
    """Short name of the pipeline's detector (``isoforest`` for sklearn's IsolationForest)."""
    est = pipeline.named_steps[DETECTOR_STEP]
    name = getattr(est, "name", None)
    if isinstance(name, str):
        return name
    return "isoforest" if type(est).__name__ == "IsolationForest" else type(est).__name__
