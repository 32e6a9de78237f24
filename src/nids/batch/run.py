"""`nids score-batch`: load the registered model once, score an archive with either engine."""

from __future__ import annotations

from typing import Any, Literal

from nids.batch.frames import Explain, ModelTag
from nids.batch.options import BatchOptions
from nids.batch.summary import BatchSummary
from nids.errors import ConfigError
from nids.settings import Settings

Engine = Literal["local", "spark"]
ENGINES: tuple[str, ...] = ("local", "spark")


def model_tag(loaded: Any) -> ModelTag:
    """What identifies a loaded model (:class:`nids.registry.LoadedModel`) in the output."""
    scorer = loaded.nids_model.scorer
    return ModelTag(
        uri=loaded.uri,
        name=loaded.name or "unregistered",
        version=str(loaded.version) if loaded.version is not None else loaded.uri,
        semver=loaded.semver,
        threshold=float(scorer.threshold),
    )


def score_batch(
    settings: Settings,
    source: str,
    output: str,
    *,
    model_uri: str | None = None,
    engine: str = "local",
    explain: Explain = "alerts",
    overwrite: bool = False,
    progress: bool = False,
) -> BatchSummary:
    """Score every flow of ``source`` with the model at ``model_uri`` (default: the
    ``model_uri`` setting) into partitioned parquet plus ``_summary.json`` at ``output``."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}", hint="use local or spark")
    from nids.registry import load_model

    loaded = load_model(model_uri or settings.model_uri, settings)
    scorer = loaded.nids_model.scorer
    tag = model_tag(loaded)
    options = BatchOptions.from_settings(settings, explain=explain, overwrite=overwrite)
    if engine == "local":
        from nids.batch.local import score_local

        return score_local(scorer, tag, source, output, options, progress=progress)
    from nids.batch.session import spark_session
    from nids.batch.spark import score_spark

    spark = spark_session(settings, app_name="nids-score-batch")
    return score_spark(
        spark, scorer, tag, source, output, options, partitions=settings.spark_partitions
    )
