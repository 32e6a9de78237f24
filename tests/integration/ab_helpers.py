"""Helpers for A/B service tests: in-process models keyed by URI, parquet request bodies."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from nids.settings import Settings


class FailingScorer:
    """Wraps a Scorer; every call after the first ``ok_calls`` raises."""

    def __init__(self, scorer: Any, ok_calls: int) -> None:
        self._scorer = scorer
        self._left = ok_calls

    def __getattr__(self, name: str) -> Any:
        return getattr(self._scorer, name)

    def _call(self) -> None:
        if self._left <= 0:
            raise RuntimeError("candidate model crashed")
        self._left -= 1

    def predict_frame(self, *args: Any, **kwargs: Any) -> Any:
        self._call()
        return self._scorer.predict_frame(*args, **kwargs)

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        self._call()
        return self._scorer.predict(*args, **kwargs)


class ModelsByUri:
    """A model loader: URI ``models:/m/<v>`` -> a NidsModel with that threshold.

    A picklable object (not a closure): the shadow process is spawned and loads its
    model through the same loader as the service.
    """

    def __init__(
        self,
        pipeline: Any,
        thresholds: dict[str, float],
        failing: dict[str, int],
        *,
        aliases: AliasFile | None = None,
        delay_s: float = 0.0,
    ):
        self.pipeline = pipeline
        self.thresholds = thresholds
        self.failing = failing
        self.aliases = aliases
        self.delay_s = delay_s

    def __call__(self, uri: str, settings: Settings) -> Any:
        from nids.model.pyfunc import NidsModel
        from nids.model.scorer import Scorer
        from nids.registry import LoadedModel

        time.sleep(self.delay_s)  # a slow registry
        if "@" in uri and self.aliases is not None:
            uri = f"{uri.split('@', maxsplit=1)[0]}/{self.aliases(uri, settings)}"
        model = NidsModel()
        scorer: Any = Scorer(self.pipeline, self.thresholds[uri])
        if uri in self.failing:
            scorer = FailingScorer(scorer, self.failing[uri])
        model.scorer = scorer
        version = int(uri.rsplit("/", 1)[-1])
        return LoadedModel(None, model, uri, "nids-isoforest", version, f"1.{version}.0")


class AliasFile:
    """A version probe: every ``models:/m@alias`` names the version written in ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, version: int) -> None:
        """Move the alias."""
        self.path.write_text(str(version))

    def __call__(self, uri: str, settings: Settings) -> int:
        return int(self.path.read_text())


def loader_for(pipeline: Any, thresholds: dict[str, float], failing: dict[str, int]) -> Any:
    """A picklable model loader keyed by URI (see :class:`ModelsByUri`)."""
    return ModelsByUri(pipeline, thresholds, failing)


def write_experiment(path: Path, doc: dict[str, Any]) -> Path:
    """Write an experiment file (YAML)."""
    path.write_text(yaml.safe_dump(doc))
    return path


def parquet_body(df: pd.DataFrame) -> bytes:
    """Flows as a parquet request body."""
    buf = io.BytesIO()
    df.drop(columns=["label", "attack_type"]).to_parquet(buf, index=False)
    return buf.getvalue()


def many_hosts(df: pd.DataFrame, n_hosts: int, seed: int) -> pd.DataFrame:
    """The flows re-sourced from ``n_hosts`` home hosts (a sensor in front of many)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, n_hosts, len(df))
    out = df.copy()
    out["src_ip"] = [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in ids]
    out["community_id"] = None  # recomputed by the service for the new 5-tuples
    return out
