"""Lineage of a training run: dataset identity, time spans, code and package versions."""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

# Run tags (the registry copies the first five onto model versions).
TAG_TRAINING_DATE = "nids.training_date"
TAG_DATASET_DIGEST = "nids.dataset_digest"
TAG_DATASET_SOURCE = "nids.dataset_source"
TAG_GIT_COMMIT = "nids.git_commit"
TAG_FEATURE_SET = "nids.feature_set_version"
TAG_DETECTOR = "nids.detector"
TAG_PACKAGE_VERSION = "nids.package_version"
TAG_SPLIT_METHOD = "nids.split_method"
#: The evaluation period; the registry gate re-reads the dataset source and keeps
#: flows with ts in [holdout_start, holdout_end] to re-evaluate a candidate.
TAG_HOLDOUT_START = "nids.holdout_start"
TAG_HOLDOUT_END = "nids.holdout_end"
DATASET_NAME = "nids-flows"


def frame_digest(df: pd.DataFrame) -> str:
    """SHA-256 (first 16 hex digits) over every row and the column names: the dataset version."""
    h = hashlib.sha256(",".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def time_span(df: pd.DataFrame) -> tuple[str, str] | None:
    """(first, last) flow timestamp as ISO-8601 text, if any."""
    if "ts" not in df.columns or df["ts"].isna().all():
        return None
    ts = pd.to_datetime(df["ts"], utc=True)
    return ts.min().isoformat(), ts.max().isoformat()


def git_commit() -> str | None:
    """Commit of the code being run: $GIT_COMMIT (images) or ``git rev-parse HEAD``."""
    if os.environ.get("GIT_COMMIT"):
        return os.environ["GIT_COMMIT"]
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git binary: not an error
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def package_version() -> str:
    """Installed version of this package."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sec-ai-nids")
    except PackageNotFoundError:
        return "unknown"


def run_tags(
    *,
    source: str,
    digest: str,
    feature_set_version: str,
    detector: str,
    split_method: str,
    test: pd.DataFrame,
) -> dict[str, str]:
    """Tags of a training run (lineage, versions, the evaluation period)."""
    tags = {
        TAG_TRAINING_DATE: datetime.now(UTC).isoformat(timespec="seconds"),
        TAG_DATASET_DIGEST: digest,
        TAG_DATASET_SOURCE: absolute_source(source),
        TAG_FEATURE_SET: feature_set_version,
        TAG_DETECTOR: detector,
        TAG_PACKAGE_VERSION: package_version(),
        TAG_SPLIT_METHOD: split_method,
    }
    commit = git_commit()
    if commit:
        tags[TAG_GIT_COMMIT] = commit
    span = time_span(test)
    if span:
        tags[TAG_HOLDOUT_START], tags[TAG_HOLDOUT_END] = span
    return tags


def absolute_source(source: str) -> str:
    """``--data`` as recorded: URLs as given, local paths made absolute (still valid when
    the registry gate re-reads them from another directory)."""
    return source if "://" in source else str(Path(source).absolute())


def dataset_source(source: str) -> Any:
    """The MLflow dataset source for a ``--data`` argument (first registered match).

    Resolving explicitly avoids MLflow's ambiguity warning (two local-file sources are
    registered); local paths are made absolute so the lineage names the real file.
    """
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.dataset_source_registry import get_registered_sources

    uri = absolute_source(source)
    for candidate in get_registered_sources():
        if candidate._can_resolve(uri):
            return candidate._resolve(uri)
    return CodeDatasetSource(tags={"source": uri})


@cache
def _flow_dataset_class() -> Any:
    from mlflow.data.pandas_dataset import PandasDataset

    class FlowDataset(PandasDataset):
        """A PandasDataset whose schema is given rather than inferred."""

        def __init__(self, df: pd.DataFrame, *, schema: Any, **kwargs: Any) -> None:
            super().__init__(df, **kwargs)
            self._declared_schema = schema

        @property
        def schema(self) -> Any:
            return self._declared_schema

    return FlowDataset


def flow_dataset(frame: pd.DataFrame, *, source: str, name: str, digest: str) -> Any:
    """An MLflow pandas dataset of ``frame`` whose schema is declared, not inferred.

    MLflow would infer the schema value by value when the run input is logged (over a
    minute of a 1M-flow run, and its integer-column hint with it);
    :func:`nids.model.mlflow_schema.frame_schema` gives the same schema from the dtypes.
    """
    from nids.model.mlflow_schema import frame_schema
    from nids.model.pyfunc import naive_utc_ts

    # Naive UTC timestamps, as in the model signature (MLflow's datetime type has no zone).
    frame = naive_utc_ts(frame)
    return _flow_dataset_class()(
        frame,
        schema=frame_schema(frame),
        source=dataset_source(source),
        targets="label" if "label" in frame.columns else None,
        name=name,
        digest=digest,
    )


def log_datasets(source: str, parts: dict[str, pd.DataFrame]) -> None:
    """Log each part (context -> frame) as an MLflow dataset input of the active run."""
    import mlflow

    for context, frame in parts.items():
        dataset = flow_dataset(
            frame, source=source, name=f"{DATASET_NAME}-{context}", digest=frame_digest(frame)
        )
        span = time_span(frame)
        tags = {"nids.rows": str(len(frame))}
        if span:
            tags["nids.start"], tags["nids.end"] = span
        mlflow.log_input(dataset, context=context, tags=tags)
