"""The prediction log on an S3-compatible server (moto on loopback), then a drift check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_generator_s3 import s3_endpoint  # noqa: F401 (fixture: moto, bucket "flows")

from nids.cli import main
from nids.monitoring.prediction_log import PredictionLogWriter, list_parts, read_prediction_log
from nids.monitoring.reference import build_reference_profile

pytestmark = pytest.mark.integration


def batch(n: int, start: int, shift: float, at: str) -> pd.DataFrame:
    rng = np.random.default_rng(start)
    return pd.DataFrame(
        {
            "community_id": [f"1:{i}" for i in range(start, start + n)],
            "src_bytes": rng.integers(0, 2000, n),
            "feature:f0": rng.normal(shift, 1, n),
            "score": rng.normal(size=n),
            "is_alert": False,
            "scored_at": pd.Timestamp(at),
        }
    )


@pytest.mark.usefixtures("s3_endpoint")
def test_prediction_log_on_s3_survives_restart_and_feeds_drift(workdir: Path) -> None:
    root = "s3://flows/prediction-log"
    first = PredictionLogWriter(root, sample_rate=1.0, max_bytes=10**8)
    first.submit(batch(500, 0, 0.0, "2026-01-01T10:05:00Z"))
    first.close()  # service restart mid-hour
    second = PredictionLogWriter(root, sample_rate=1.0, max_bytes=10**8)
    second.submit(batch(500, 500, 0.0, "2026-01-01T10:45:00Z"))
    second.submit(batch(1000, 1000, 1.0, "2026-01-01T11:10:00Z"))
    second.close()
    assert first.stats["written"] + second.stats["written"] == 2000
    parts = list_parts(root)
    assert len(parts) == 3 and all(p.startswith(f"{root}/date=2026-01-01/") for p in parts)
    frame = read_prediction_log(root)
    assert sorted(frame["community_id"]) == sorted(f"1:{i}" for i in range(2000))  # once each

    # `nids monitor drift` reads the S3 partitions (reference: a profile file)
    rng = np.random.default_rng(9)
    reference = pd.DataFrame({"src_bytes": rng.integers(0, 2000, 5000)})
    profile = workdir / "profile.json"
    profile.write_text(
        json.dumps(
            build_reference_profile(
                reference,
                rng.normal(size=(5000, 1)),
                ["f0"],
                rng.normal(size=5000),
                rng.normal(size=5000),
                seed=0,
            )
        )
    )
    common = ["--reference", str(profile), "--no-mlflow"]
    assert main(["monitor", "drift", "--current", f"{root}/date=2026-01-01/hour=10", *common]) == 0
    assert main(["monitor", "drift", "--current", f"{root}/date=2026-01-01/hour=11", *common]) == 3
