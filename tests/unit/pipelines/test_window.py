"""Data window resolution: dated layouts, since/until filtering, the dataset digest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from nids.errors import ConfigError, DataError, EmptyDataError
from nids.pipelines.window import object_time, parse_when, resolve_window


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("2025-11-03T05.parquet", datetime(2025, 11, 3, 5, tzinfo=UTC)),
        ("netflow/2025-11-03-17.parquet", datetime(2025, 11, 3, 17, tzinfo=UTC)),
        ("dt=2025-11-03/hour=09/part-0.parquet", datetime(2025, 11, 3, 9, tzinfo=UTC)),
        ("2025/11/03/22/flows.parquet", datetime(2025, 11, 3, 22, tzinfo=UTC)),
        ("2025-11-03.parquet", datetime(2025, 11, 3, tzinfo=UTC)),
        ("archive-2024-01-01/2025-11-04T01.parquet", datetime(2025, 11, 4, 1, tzinfo=UTC)),
        ("flows.parquet", None),
        ("2025-13-40.parquet", None),
    ],
)
def test_object_time_reads_date_and_hour(path: str, expected: datetime | None) -> None:
    assert object_time(path) == expected


def test_parse_when_is_utc_and_rejects_garbage() -> None:
    assert parse_when("2025-11-03") == datetime(2025, 11, 3, tzinfo=UTC)
    with pytest.raises(ConfigError, match="not an ISO date"):
        parse_when("last tuesday")


def _layout(root: Path, hours: list[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for hour in hours:
        (root / f"{hour}.parquet").write_bytes(b"x" * (len(hour) + 10))


def test_since_until_selects_half_open_range(tmp_path: Path) -> None:
    root = tmp_path / "netflow"
    _layout(root, ["2025-11-02T23", "2025-11-03T00", "2025-11-03T12", "2025-11-04T00"])
    (root / "README.txt").write_text("undated")
    window = resolve_window(
        data=None,
        since=datetime(2025, 11, 3, tzinfo=UTC),
        until=datetime(2025, 11, 4, tzinfo=UTC),
        root=str(root),
    )
    names = [Path(o.uri).name for o in window.objects]
    assert names == ["2025-11-03T00.parquet", "2025-11-03T12.parquet"]
    assert [Path(p).name for p in window.skipped_undated] == ["README.txt"]


def test_digest_names_the_objects_and_changes_when_one_is_rewritten(tmp_path: Path) -> None:
    root = tmp_path / "netflow"
    _layout(root, ["2025-11-03T00", "2025-11-03T01"])
    glob = str(root / "2025-11-03T*.parquet")
    first = resolve_window(data=glob, since=None, until=None, root=None)
    again = resolve_window(data=glob, since=None, until=None, root=None)
    assert first.digest == again.digest and len(first.digest) == 16
    (root / "2025-11-03T01.parquet").write_bytes(b"y" * 99)
    changed = resolve_window(data=glob, since=None, until=None, root=None)
    assert changed.digest != first.digest
    lineage = changed.lineage()
    assert lineage["digest"] == changed.digest
    assert [o["size"] for o in lineage["objects"]] == [23, 99]


def test_window_errors_are_clear(tmp_path: Path) -> None:
    root = tmp_path / "netflow"
    _layout(root, ["2025-11-03T00"])
    with pytest.raises(ConfigError, match="either --data or --since"):
        resolve_window(
            data=str(root), since=datetime(2025, 1, 1, tzinfo=UTC), until=None, root=None
        )
    with pytest.raises(ConfigError, match="no data window"):
        resolve_window(data=None, since=None, until=None, root=str(root))
    with pytest.raises(ConfigError, match="NIDS_RETRAIN_DATA_ROOT"):
        resolve_window(data=None, since=datetime(2025, 1, 1, tzinfo=UTC), until=None, root=None)
    with pytest.raises(EmptyDataError, match="no object dated"):
        resolve_window(
            data=None,
            since=datetime(2025, 12, 1, tzinfo=UTC),
            until=datetime(2025, 12, 2, tzinfo=UTC),
            root=str(root),
        )
    with pytest.raises(DataError, match="no input files match"):
        resolve_window(data=str(root / "2026-*.parquet"), since=None, until=None, root=None)
