"""The reference profile: JSON-serialisable, bounded, seeded, validated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from monitoring_samples import FEATURES, feature_matrix, synthetic_flows, synthetic_profile

from nids.errors import DataError
from nids.monitoring.reference import (
    build_reference_profile,
    load_reference_profile,
    profile_from_model,
    read_profile_file,
)
from nids.settings import Settings


def test_profile_content_and_json_roundtrip() -> None:
    profile = synthetic_profile(3000, sample_rows=500)
    again = json.loads(json.dumps(profile))
    assert again == profile
    assert profile["n_rows"] == 3000
    assert profile["sample"]["rows"] == 500
    assert set(profile["sample"]["columns"]) == set(profile["numeric"])
    assert all(len(v) == 500 for v in profile["sample"]["columns"].values())
    assert f"feature:{FEATURES[0]}" in profile["numeric"]
    assert "raw:src_bytes" in profile["numeric"]
    service = profile["categorical"]["cat:service"]
    assert set(service["categories"]) == {"dns", "http", "ssl", "(none)"}
    assert sum(service["counts"]) + service["other"] == 3000
    f0 = profile["numeric"]["feature:f0"]
    assert f0["mean"] == pytest.approx(0, abs=0.1) and f0["std"] == pytest.approx(1, abs=0.1)
    assert sum(f0["counts"]) == 3000 and len(f0["counts"]) == len(f0["edges"]) + 1
    assert len(profile["scores"]["train"]["sample"]) == 500
    assert len(profile["scores"]["holdout"]["sample"]) == 500  # 750 holdout scores, capped


def test_profile_sample_is_seeded() -> None:
    a = synthetic_profile(2000, seed=3, sample_rows=100)
    b = synthetic_profile(2000, seed=3, sample_rows=100)
    assert a["sample"] == b["sample"]


def test_profile_refuses_mismatched_features() -> None:
    flows = synthetic_flows(10, np.random.default_rng(0))
    with pytest.raises(DataError, match="does not match"):
        build_reference_profile(
            flows, feature_matrix(flows)[:5], FEATURES, np.zeros(10), np.zeros(10), seed=0
        )
    with pytest.raises(DataError, match="finite score"):
        build_reference_profile(
            flows, feature_matrix(flows), FEATURES, np.full(10, np.nan), np.zeros(3), seed=0
        )


def test_profile_files_and_models(tmp_path: Path) -> None:
    profile = synthetic_profile(1000, sample_rows=50)
    model_dir = tmp_path / "model" / "artifacts"
    model_dir.mkdir(parents=True)
    (model_dir / "reference_profile.json").write_text(json.dumps(profile))
    assert read_profile_file(tmp_path / "model") == profile
    assert load_reference_profile(str(model_dir / "reference_profile.json"), Settings()) == profile
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match=r"bad\.json"):
        read_profile_file(bad)
    bad.write_text(json.dumps({"profile_version": 0}))
    with pytest.raises(DataError, match="profile_version"):
        read_profile_file(bad)

    class Model:
        reference_profile = profile

    class Loaded:
        nids_model = Model()
        name, version = "nids-isoforest", 3

    assert profile_from_model(Loaded()) == profile
    Model.reference_profile = None  # type: ignore[assignment]
    with pytest.raises(DataError, match="nids-isoforest 3 carries no"):
        profile_from_model(Loaded())
