"""Batch scoring and training-data preparation over flow archives, locally or on Spark.

Public API (modules import their heavy dependencies only when called)::

    nids.batch.run.score_batch(settings, source, output, *, model_uri, engine, ...) -> BatchSummary
    nids.batch.local.score_local(scorer, model, source, output, ...) -> BatchSummary
    nids.batch.spark.score_spark(spark, scorer, model, source, output, ...) -> BatchSummary
    nids.batch.prepare.prepare_training_data(settings, source, output, *, engine, ...) -> dict
    nids.batch.session.spark_session(settings) -> SparkSession

Both engines call the one :class:`nids.model.scorer.Scorer` on the reader's batches
(``nids.data.iter_flow_batches``) and replay each source host's flows in the same order
through the feature transformer's host-context state, so they give the same scores.
"""
