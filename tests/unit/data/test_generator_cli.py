"""`nids generate`: writes parquet in the flow schema, lists drift scenarios, fails cleanly."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer

import nids.cli
from nids.cli import main
from nids.data.generator import DRIFT_SCENARIOS
from nids.data.schema import FLOW_SCHEMA


@pytest.fixture(autouse=True)
def _only_generate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run `main` with just this module's commands, so others' modules cannot interfere."""
    app = typer.Typer(pretty_exceptions_enable=False)
    app.callback()(lambda: None)  # keep `generate` a sub-command of a group, as in `nids`
    monkeypatch.setattr(nids.cli, "app", app)
    monkeypatch.setattr(nids.cli, "_COMMAND_MODULES", ["generate"])
    monkeypatch.setattr(nids.cli, "_registered", False)


def test_generate_writes_parquet_and_prints_a_summary(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "--flows", "4000", "--days", "2", "--attack-share", "0.1", "--seed", "7"]
    assert main(argv) == 0
    table = pq.read_table(workdir / "data" / "netflow.parquet")
    assert table.schema.equals(FLOW_SCHEMA, check_metadata=False)
    assert table.num_rows == 4000
    labels = table.column("label").to_pandas().value_counts()
    assert labels["malicious"] == 400
    out = capsys.readouterr().out
    assert "4,000" in out and "malicious" in out and "portscan" in out
    assert "2025-11-03" in out
    assert list(workdir.joinpath("data").iterdir()) == [workdir / "data" / "netflow.parquet"]


def test_generate_with_drift_start_and_out(workdir: Path) -> None:
    out = workdir / "drifted" / "flows.parquet"
    argv = ["generate", "--out", str(out), "--flows", "3000", "--days", "1"]
    argv += ["--drift", "new_service", "--start", "2026-02-02T00:00:00Z"]
    assert main(argv) == 0
    df = pq.read_table(out).to_pandas()
    assert str(df["ts"].min().date()) == "2026-02-02"
    assert df["dst_port"].isin([3478, 3479, 3480, 3481, 8801]).any()


def test_same_seed_same_file_seed_defaults_to_settings(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIDS_SEED", "5")
    assert main(["generate", "--out", "a.parquet", "--flows", "2000", "--days", "1"]) == 0
    argv = ["generate", "--out", "b.parquet", "--flows", "2000", "--days", "1", "--seed", "5"]
    assert main(argv) == 0
    assert main([*argv[:2], "c.parquet", *argv[3:-1], "6"]) == 0
    a, b, c = (pq.read_table(workdir / f"{x}.parquet") for x in "abc")
    assert a.equals(b)
    assert not a.equals(c)


def test_list_drift_prints_every_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--list-drift"]) == 0
    out = capsys.readouterr().out
    for name in DRIFT_SCENARIOS:
        assert name in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--drift", "solar_flare"], "unknown drift scenario 'solar_flare'"),
        (["--start", "yesterday"], "--start 'yesterday' is not an ISO date"),
        (["--flows", "0"], "flows must be at least 1"),
        (["--attack-share", "2"], "attack share must be between 0 and 1"),
        (["--home-cidr", "10.0.0.0/28"], "too small"),
    ],
)
def test_bad_arguments_fail_with_a_message_and_write_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["generate", "--flows", "100", *args]) == 2
    err = capsys.readouterr().err
    assert message in err.replace("\n", "")
    assert "Traceback" not in err
    assert not (workdir / "data").exists()
