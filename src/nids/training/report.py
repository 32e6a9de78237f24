"""The summary printed at the end of `nids train`."""

from __future__ import annotations

from typing import Any

from rich.table import Table

#: Metrics shown first, in this order; the rest follow alphabetically.
HEADLINE = (
    "auc",
    "pr_auc",
    "precision_at_100",
    "precision_at_k",
    "recall",
    "false_positive_rate",
    "alerts_per_day",
    "threshold",
    "prediction_mean",
    "training_time_s",
    "throughput_flows_per_s",
    "train_rows",
    "test_rows",
)


def summary_table(result: Any) -> Table:
    """Rich table of a TrainResult's metrics, headline metrics first."""
    table = Table("metric", "value", title=f"run {result.run_id}")
    rest = sorted(k for k in result.metrics if k not in HEADLINE)
    for key in [k for k in HEADLINE if k in result.metrics] + rest:
        value = result.metrics[key]
        text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
        table.add_row(key, text)
    return table


def print_summary(result: Any, console: Any) -> None:
    """Print the metrics table, the run and model URIs and any registered version."""
    console.print(summary_table(result))
    console.print(f"run: {result.run_url}")
    console.print(f"model: {result.model_uri}")
    if result.registered is not None:
        info = result.registered
        console.print(f"registered: {info.name} version {info.version} ({info.semver})")
