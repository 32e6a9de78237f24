"""The reference profile: what the training data looked like, saved inside every model.

Drift is always measured against this profile, so it holds everything a later
comparison needs without the training data: per-column quantiles and decile
histograms (raw flow columns and engineered features), category frequencies,
a bounded seeded random sample of rows (for KS and Wasserstein), and the score
distribution on the training and holdout data.

Column keys name their origin: ``feature:<name>`` (engineered), ``raw:<column>``
(numeric flow column) and ``cat:<column>`` (categorical flow column).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nids.errors import DataError
from nids.monitoring import stats

if TYPE_CHECKING:
    from nids.settings import Settings

PROFILE_VERSION = 1
PROFILE_FILENAME = "reference_profile.json"
#: Numeric flow columns profiled as they are (besides the engineered features).
RAW_NUMERIC_COLUMNS = ["duration", "src_bytes", "dst_bytes", "src_pkts", "dst_pkts"]
#: Categorical flow columns profiled by category frequency (a new service shows here).
CATEGORICAL_COLUMNS = ["proto", "service", "conn_state", "dst_port"]
MISSING_CATEGORY = "(none)"
OTHER_CATEGORY = "(other)"
TOP_CATEGORIES = 30
N_BINS = 10
_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def numeric_summary(values: np.ndarray) -> dict[str, Any]:
    """Mean, std, range, quantiles and a decile histogram of one numeric column."""
    v = np.asarray(values, dtype=float)
    edges = stats.bin_edges(v, N_BINS)
    return {
        "n": int(v.size),
        "mean": float(v.mean()),
        "std": float(v.std()),
        "min": float(v.min()),
        "max": float(v.max()),
        "quantiles": {
            str(q): float(x) for q, x in zip(_QUANTILES, np.quantile(v, _QUANTILES), strict=True)
        },
        "edges": edges.tolist(),
        "counts": stats.histogram(v, edges).tolist(),
    }


def category_values(column: pd.Series) -> pd.Series:
    """A categorical column as strings, missing values named."""
    return column.astype("string").fillna(MISSING_CATEGORY).astype(str)


def categorical_summary(column: pd.Series) -> dict[str, Any]:
    """The most frequent categories with counts; the rest pooled as ``(other)``."""
    counts = category_values(column).value_counts()
    top = counts.iloc[:TOP_CATEGORIES]
    return {
        "n": int(counts.sum()),
        "categories": [str(c) for c in top.index],
        "counts": [int(c) for c in top.to_numpy()],
        "other": int(counts.iloc[TOP_CATEGORIES:].sum()),
    }


def _score_summary(scores: np.ndarray, rng: np.random.Generator, sample_rows: int) -> dict:
    s = np.asarray(scores, dtype=float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise DataError("reference profile needs at least one finite score")
    summary = numeric_summary(s)
    take = rng.choice(s.size, size=min(s.size, sample_rows), replace=False)
    summary["sample"] = s[np.sort(take)].tolist()
    return summary


def build_reference_profile(
    raw: pd.DataFrame,
    features: np.ndarray,
    feature_names: Sequence[str],
    train_scores: np.ndarray,
    holdout_scores: np.ndarray,
    *,
    seed: int,
    sample_rows: int = 5000,
) -> dict:
    """Profile the training data for later drift checks (JSON-serialisable dict).

    ``raw`` holds the flows in the canonical schema and ``features`` the engineered
    matrix of the same rows (row i of one is row i of the other). Scores follow the
    Scorer's convention: higher = more anomalous.
    """
    x = np.asarray(features, dtype=float)
    if x.ndim != 2 or x.shape[0] != len(raw) or x.shape[1] != len(feature_names):
        raise DataError(
            f"features shape {x.shape} does not match {len(raw)} flows "
            f"x {len(feature_names)} feature names"
        )
    if len(raw) == 0:
        raise DataError("cannot build a reference profile from zero flows")
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {
        f"feature:{name}": x[:, i] for i, name in enumerate(feature_names)
    }
    for col in RAW_NUMERIC_COLUMNS:
        if col in raw.columns:
            columns[f"raw:{col}"] = pd.to_numeric(raw[col], errors="coerce").to_numpy(
                dtype=float, na_value=np.nan
            )
    numeric = {}
    for key, values in columns.items():
        finite = values[np.isfinite(values)]
        if finite.size:
            numeric[key] = {"column": key.split(":", 1)[1], **numeric_summary(finite)}
    rows = np.sort(rng.choice(len(raw), size=min(len(raw), sample_rows), replace=False))
    sample = {key: columns[key][rows].tolist() for key in numeric}
    categorical = {
        f"cat:{col}": {"column": col, **categorical_summary(raw[col])}
        for col in CATEGORICAL_COLUMNS
        if col in raw.columns
    }
    return {
        "profile_version": PROFILE_VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "seed": seed,
        "n_rows": len(raw),
        "feature_names": list(feature_names),
        "numeric": numeric,
        "categorical": categorical,
        "sample": {"rows": len(rows), "columns": sample},
        "scores": {
            "train": _score_summary(train_scores, rng, sample_rows),
            "holdout": _score_summary(holdout_scores, rng, sample_rows),
        },
    }


def validate_profile(profile: Mapping[str, Any], source: str = "reference profile") -> None:
    """Refuse a profile this code cannot compare against."""
    if not isinstance(profile, Mapping) or profile.get("profile_version") != PROFILE_VERSION:
        raise DataError(
            f"not a version-{PROFILE_VERSION} reference profile",
            source=source,
            field="profile_version",
        )
    for key in ("numeric", "categorical", "sample", "scores"):
        if key not in profile:
            raise DataError("reference profile is incomplete", source=source, field=key)


def read_profile_file(path: str | Path) -> dict:
    """Read a ``reference_profile.json`` (a file, or a model directory holding one)."""
    p = Path(path)
    if p.is_dir():
        hits = sorted(p.rglob(PROFILE_FILENAME))
        if not hits:
            raise DataError(f"no {PROFILE_FILENAME} under this directory", source=str(p))
        p = hits[0]
    try:
        profile = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read reference profile: {exc}", source=str(p)) from exc
    validate_profile(profile, str(p))
    return dict(profile)


def profile_from_model(loaded: Any) -> dict:
    """The profile a loaded model carries (``LoadedModel`` or ``NidsModel``)."""
    model = getattr(loaded, "nids_model", loaded)
    profile = getattr(model, "reference_profile", None)
    if profile is None:
        raise DataError(
            f"model {getattr(loaded, 'name', '')} {getattr(loaded, 'version', '')} carries "
            f"no {PROFILE_FILENAME}; retrain it with this version"
        )
    validate_profile(profile)
    return dict(profile)


def load_reference_profile(model_uri: str, settings: Settings) -> dict:
    """The reference profile of a registered model (``models:/...``) or a local JSON path."""
    if Path(model_uri).exists():
        return read_profile_file(model_uri)
    from nids.registry import load_model

    return profile_from_model(load_model(model_uri, settings))
