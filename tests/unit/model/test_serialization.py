"""skops persistence with an exact type allow-list."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from flow_samples import make_flows
from nids.errors import ModelIntegrityError, TrainingError
from nids.model.pipeline import build_pipeline
from nids.model.serialization import TRUSTED_TYPES, load_pipeline, save_pipeline
from nids.settings import Settings
from nids.training.trainer import fit_pipeline


class Intruder:
    """A type nobody put on the allow-list."""

    def __init__(self) -> None:
        self.payload = 1


def test_round_trip_gives_identical_scores(tmp_path: Path) -> None:
    flows = make_flows(400, seed=1)
    pipeline = build_pipeline(Settings(n_estimators=10, max_samples=64))
    x = fit_pipeline(pipeline, flows)
    path = save_pipeline(pipeline, tmp_path / "p.skops")
    assert set(sio.get_untrusted_types(file=path)) <= TRUSTED_TYPES
    loaded = load_pipeline(path)
    np.testing.assert_array_equal(
        loaded.named_steps["detector"].score_samples(
            loaded.named_steps["features"].transform(flows)
        ),
        pipeline.named_steps["detector"].score_samples(x),
    )


@pytest.mark.parametrize("detector", ["hbos", "ensemble"])
def test_every_detector_round_trips_through_the_allow_list(tmp_path: Path, detector: str) -> None:
    flows = make_flows(300, seed=2)
    pipeline = build_pipeline(Settings(n_estimators=10, max_samples=64), detector=detector)
    x = fit_pipeline(pipeline, flows)
    loaded = load_pipeline(save_pipeline(pipeline, tmp_path / "p.skops"))
    np.testing.assert_array_equal(
        loaded.named_steps["detector"].score_samples(x),
        pipeline.named_steps["detector"].score_samples(x),
    )


def test_saving_an_unlisted_type_is_refused_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="allow-list"):
        save_pipeline({"step": Intruder()}, tmp_path / "p.skops")
    assert list(tmp_path.iterdir()) == []


def test_loading_an_unlisted_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.skops"
    sio.dump({"step": Intruder()}, path)
    with pytest.raises(ModelIntegrityError, match="Intruder"):
        load_pipeline(path)


def test_garbage_or_missing_files_are_integrity_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ModelIntegrityError, match="not a readable skops file"):
        load_pipeline(bad)
    with pytest.raises(ModelIntegrityError, match="missing"):
        load_pipeline(tmp_path / "absent.skops")
