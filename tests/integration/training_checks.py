"""What every training integration test verifies about a finished run, via MlflowClient."""

from __future__ import annotations

from mlflow.tracking import MlflowClient

EXPECTED_METRICS = {
    "auc",
    "pr_auc",
    "precision_at_100",
    "precision_at_k",
    "recall",
    "false_positive_rate",
    "alerts_per_day",
    "training_time_s",
    "train_rows",
    "test_rows",
    "prediction_mean",
    "score_p99",
    "throughput_flows_per_s",
    "threshold",
}
EXPECTED_TAGS = {
    "nids.training_date",
    "nids.dataset_digest",
    "nids.dataset_source",
    "nids.feature_set_version",
    "nids.package_version",
    "nids.holdout_start",
}


def check_training_run(client: MlflowClient, run_id: str, *, data_name: str, rows: int) -> None:
    """Run finished with metrics, params, lineage tags, dataset inputs, signature, plots."""
    import mlflow

    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    assert set(metrics) >= EXPECTED_METRICS, EXPECTED_METRICS - set(metrics)
    assert 0.9 < metrics["auc"] <= 1.0  # the sample's scanner is easy to spot
    assert metrics["train_rows"] + metrics["test_rows"] < rows
    params = run.data.params
    assert {"seed", "target_fpr", "detector.n_estimators", "train_on"} <= set(params)
    assert set(run.data.tags) >= EXPECTED_TAGS, EXPECTED_TAGS - set(run.data.tags)
    assert run.data.tags["nids.dataset_source"].endswith(data_name)

    inputs = {
        next(t.value for t in d.tags if t.key == "mlflow.data.context"): d.dataset
        for d in run.inputs.dataset_inputs
    }
    assert set(inputs) == {"training", "testing"}
    for dataset in inputs.values():
        assert data_name in dataset.source
        assert '"ts"' in dataset.schema and dataset.digest
    assert '"num_rows": ' + str(int(metrics["test_rows"])) in inputs["testing"].profile

    info = mlflow.models.get_model_info(f"runs:/{run_id}/model")
    assert info.signature is not None
    names = [c.name for c in info.signature.inputs.inputs]
    assert "src_ip" in names and "label" not in names
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {"plots/roc.png", "plots/pr.png", "plots/score_histogram.png"} <= plots
