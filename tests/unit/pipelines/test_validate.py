"""Reading a window: every object streamed, bad objects fail clearly or are quarantined."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from flow_samples import make_flows
from nids.errors import DataError, TrainingError
from nids.pipelines.validate import check_window, load_window
from nids.pipelines.window import resolve_window
from nids.settings import Settings


def _write_hours(root: Path, hours: int, per_hour: int, attack_share: float = 0.05) -> None:
    root.mkdir(parents=True, exist_ok=True)
    frame = make_flows(hours * per_hour, seed=2, attack_share=attack_share, days=hours / 24)
    hour = frame["ts"].dt.floor("h")
    for stamp, part in frame.groupby(hour):
        part.to_parquet(root / f"{stamp:%Y-%m-%dT%H}.parquet", index=False)


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(**{"quarantine_dir": tmp_path / "quarantine", "retrain_min_rows": 100, **kw})


def test_every_object_is_read_into_a_bounded_sample(tmp_path: Path) -> None:
    _write_hours(tmp_path / "netflow", hours=24, per_hour=50)
    window = resolve_window(
        data=str(tmp_path / "netflow" / "*.parquet"), since=None, until=None, root=None
    )
    loaded = load_window(_settings(tmp_path, max_train_rows=300), window)
    assert len(window.objects) == 24
    assert loaded.profile.rows == 1200
    assert len(loaded.frame) == 300
    assert len(loaded.report.sources) == 24
    summary = loaded.summary()
    assert summary["objects_read"] == 24 and summary["objects_refused"] == []
    check_window(_settings(tmp_path), loaded, source="netflow")


def test_corrupt_object_fails_naming_it_or_is_quarantined(tmp_path: Path) -> None:
    root = tmp_path / "netflow"
    _write_hours(root, hours=6, per_hour=40)
    bad = root / "2025-11-01T03.parquet"
    lost = len(pd.read_parquet(bad))
    bad.write_bytes(b"PAR1" + b"\x00garbage" * 20)
    window = resolve_window(data=str(root / "*.parquet"), since=None, until=None, root=None)
    with pytest.raises(DataError, match=r"2025-11-01T03\.parquet"):
        load_window(_settings(tmp_path), window)
    loaded = load_window(_settings(tmp_path, on_error="quarantine"), window)
    assert [Path(p).name for p in loaded.refused_objects] == ["2025-11-01T03.parquet"]
    assert loaded.profile.rows == 240 - lost
    assert (tmp_path / "quarantine" / "2025-11-01T03.parquet.quarantine.jsonl").exists()


def test_wrong_schema_object_names_object_and_field(tmp_path: Path) -> None:
    root = tmp_path / "netflow"
    _write_hours(root, hours=3, per_hour=40)
    frame = make_flows(10, seed=9).drop(columns=["dst_port"])
    frame.to_parquet(root / "2025-11-01T01.parquet", index=False)
    window = resolve_window(data=str(root / "*.parquet"), since=None, until=None, root=None)
    with pytest.raises(DataError, match=r"2025-11-01T01\.parquet.*dst_port"):
        load_window(_settings(tmp_path), window)


def test_window_checks_rows_label_mix_and_total_refusal(tmp_path: Path) -> None:
    root = tmp_path / "netflow"
    _write_hours(root, hours=2, per_hour=30, attack_share=0.7)
    window = resolve_window(data=str(root / "*.parquet"), since=None, until=None, root=None)
    loaded = load_window(_settings(tmp_path), window)
    with pytest.raises(TrainingError, match="fewer than the 1,000"):
        check_window(Settings(), loaded, source="w")
    with pytest.raises(TrainingError, match=r"labelled malicious, above the 50% limit"):
        check_window(_settings(tmp_path, retrain_min_rows=10), loaded, source="w")
    for path in root.iterdir():
        path.write_bytes(b"not parquet at all")
    loaded = load_window(_settings(tmp_path, on_error="quarantine"), window)
    with pytest.raises(DataError, match="every object of the window was refused"):
        check_window(_settings(tmp_path, retrain_min_rows=3), loaded, source="w")
