"""The batch-fed score histogram exposes exactly what prometheus_client's Histogram does."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from nids.serving.metrics import SCORE_BUCKETS, ServiceMetrics


def _lines(registry: CollectorRegistry, prefix: str) -> dict[str, float]:
    out = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith(prefix) and "_created" not in line and "_sum" not in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_bulk_score_histogram_matches_prometheus_histogram() -> None:
    rng = np.random.default_rng(0)
    # Values on the bucket bounds, outside them, and in between.
    batches = [rng.random(1000), np.array(SCORE_BUCKETS[:5]), np.array([0.0, 1.0, 1.5, 0.3])]
    ours = ServiceMetrics.create()
    reference = CollectorRegistry()
    hist = Histogram(
        "nids_score", "x", ["model_version"], buckets=SCORE_BUCKETS, registry=reference
    )
    for version, values in zip(["1", "1", "2"], batches, strict=True):
        ours.scores.labels(version).observe_many(values)
        for value in values:
            hist.labels(version).observe(float(value))
    ours.scores.labels("2").observe(0.55)
    hist.labels("2").observe(0.55)
    got = _lines(ours.registry, "nids_score")
    assert got == _lines(reference, "nids_score")
    assert got['nids_score_count{model_version="1"}'] == 1005
    for version in ("1", "2"):
        expected = reference.get_sample_value("nids_score_sum", {"model_version": version})
        total = ours.registry.get_sample_value("nids_score_sum", {"model_version": version})
        assert abs(total - expected) < 1e-9
        assert ours.registry.get_sample_value("nids_score_created", {"model_version": version})
    ours.scores.labels("3").observe_many(np.array([]))  # an empty batch counts nothing
    assert ours.registry.get_sample_value("nids_score_count", {"model_version": "3"}) == 0
