"""Plain helpers for serving unit tests (importable; fixtures live in conftest.py)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd


def make_loaded(pipeline: Any, *, version: int, threshold: float = 0.6) -> Any:
    """A LoadedModel as the registry returns it, around a real NidsModel."""
    from nids.model.pyfunc import NidsModel
    from nids.model.scorer import Scorer
    from nids.registry import LoadedModel

    model = NidsModel()
    model.scorer = Scorer(pipeline, threshold)
    return LoadedModel(
        pyfunc=None,
        nids_model=model,
        uri="models:/nids-isoforest@production",
        name="nids-isoforest",
        version=version,
        semver=f"1.{version}.0",
    )


def flow_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Flows as a JSON client sends them (ISO timestamps, nulls)."""
    inputs = df.drop(columns=["label", "attack_type"])
    records: list[dict[str, Any]] = json.loads(
        inputs.to_json(orient="records", date_format="iso", date_unit="us")
    )
    return records


def alert_threshold(pipeline: Any, flows: pd.DataFrame, share: float = 0.05) -> float:
    """A threshold that makes about ``share`` of ``flows`` alerts."""
    from nids.model.scorer import Scorer

    scores = Scorer(pipeline, 0.5).score(flows)
    return float(np.quantile(scores, 1 - share))
