"""Readers against a real S3 API (moto server on loopback): globs of many objects, corrupt objects."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "data"))
from flow_writers import sample_flows, write_zeek_tsv

from nids.cli.data import ingest_command
from nids.data import ingest, read_flows, read_flows_report, validate_flows, write_flows
from nids.errors import DataError, ServiceUnavailableError

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BUCKET = "sec-ai-raw"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """One moto S3 server for the module, on a free loopback port."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket; credentials in the standard AWS variables, endpoint NOT in env."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=moto_url)
    client.create_bucket(Bucket=BUCKET)
    yield moto_url
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _day_frames(days: int) -> list[pd.DataFrame]:
    frames = []
    for day in range(days):
        frame = validate_flows(sample_flows())
        frame["ts"] = frame["ts"] + pd.Timedelta(days=day)
        frames.append(frame)
    return frames


def test_glob_of_many_parquet_objects(s3: str) -> None:
    frames = _day_frames(8)
    for day, frame in enumerate(frames, start=1):
        write_flows(frame, f"s3://{BUCKET}/netflow/2025-11-{day:02d}.parquet", s3_endpoint_url=s3)
    write_flows(frames[0], f"s3://{BUCKET}/netflow/2025-12-01.parquet", s3_endpoint_url=s3)

    df, report = read_flows_report(f"s3://{BUCKET}/netflow/2025-11-*.parquet", s3_endpoint_url=s3)
    assert len(report.sources) == 8 and all(s.rows == 3 for s in report.sources)
    assert report.sources[0].source == f"s3://{BUCKET}/netflow/2025-11-01.parquet"
    pd.testing.assert_frame_equal(df, pd.concat(frames, ignore_index=True))


def test_endpoint_from_aws_endpoint_url_and_text_objects(
    s3: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import boto3

    write_zeek_tsv(sample_flows(), tmp_path / "conn.log")
    boto3.client("s3", endpoint_url=s3).upload_file(
        str(tmp_path / "conn.log"), BUCKET, "zeek/conn.log"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3)  # Settings().s3_endpoint_url
    df = read_flows(f"s3://{BUCKET}/zeek/")
    assert df["dst_port"].tolist() == [443, 22, 53]
    report = ingest(f"s3://{BUCKET}/zeek/conn.log", f"s3://{BUCKET}/canonical/flows.parquet")
    assert report.rows == 3
    assert len(read_flows(f"s3://{BUCKET}/canonical/flows.parquet")) == 3
    # the CLI command takes s3:// outputs too (no Path mangling of 's3://')
    ingest_command(
        f"s3://{BUCKET}/zeek/", f"s3://{BUCKET}/cli/flows.parquet", None, None, None, None
    )
    assert len(read_flows(f"s3://{BUCKET}/cli/flows.parquet")) == 3


def test_corrupt_object_in_a_glob_fails_or_is_quarantined(s3: str, tmp_path: Path) -> None:
    import boto3

    for day, frame in enumerate(_day_frames(3), start=1):
        write_flows(frame, f"s3://{BUCKET}/netflow/2025-11-{day:02d}.parquet", s3_endpoint_url=s3)
    good = tmp_path / "good.parquet"
    write_flows(_day_frames(1)[0], good)
    broken = good.read_bytes()[: len(good.read_bytes()) // 2]  # truncated upload
    boto3.client("s3", endpoint_url=s3).put_object(
        Bucket=BUCKET, Key="netflow/2025-11-04.parquet", Body=broken
    )
    source = f"s3://{BUCKET}/netflow/2025-11-*.parquet"

    with pytest.raises(
        DataError, match=r"s3://sec-ai-raw/netflow/2025-11-04\.parquet: cannot read parquet"
    ):
        read_flows(source, s3_endpoint_url=s3)

    df, report = read_flows_report(
        source, s3_endpoint_url=s3, on_error="quarantine", quarantine_dir=tmp_path / "q"
    )
    assert len(df) == 9
    [bad] = report.failed_sources
    assert bad.source.endswith("2025-11-04.parquet")
    assert (tmp_path / "q" / "2025-11-04.parquet.quarantine.jsonl").exists()


def test_missing_bucket_and_unreachable_endpoint(s3: str) -> None:
    with pytest.raises(DataError, match="no input files match"):
        read_flows(f"s3://{BUCKET}/nothing-here/*.parquet", s3_endpoint_url=s3)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(ServiceUnavailableError, match="cannot list S3 objects"):
        read_flows(f"s3://{BUCKET}/netflow/x.parquet", s3_endpoint_url=dead)
