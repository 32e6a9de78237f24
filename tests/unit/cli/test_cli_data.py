"""`nids ingest`, `nids data summary`, `nids data validate` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

import nids.cli
from nids.cli import main
from nids.data import read_flows
from support import ZEEK_008, ZEEK_010


@pytest.fixture(autouse=True)
def _data_commands_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real entry point with only this module's commands (others' may be mid-edit)."""
    fresh = typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True)
    fresh.callback()(lambda: None)
    for name, value in (("app", fresh), ("_COMMAND_MODULES", ["data"]), ("_registered", False)):
        monkeypatch.setattr(nids.cli, name, value)


def test_ingest_converts_and_reports_counts(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ingest", str(ZEEK_010), "--out", "data/z.parquet"]) == 0
    assert "5,347 flows written, 0 refused" in capsys.readouterr().out
    assert len(read_flows("data/z.parquet")) == 5347


def test_ingest_of_bad_rows_fails_without_output_or_quarantines_them(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ZEEK_008.read_text().splitlines()
    lines[20] = "x" + lines[20]  # line 21: ts is no longer a number
    Path("bad.log").write_text("\n".join(lines) + "\n")
    assert main(["ingest", "bad.log", "--out", "out.parquet"]) == 2
    err = capsys.readouterr().err
    assert "bad.log, line 21, field 'ts'" in err and "Traceback" not in err
    assert not Path("out.parquet").exists() and not list(Path().glob(".out.parquet*"))

    code = main(
        [
            "ingest",
            "bad.log",
            "--out",
            "out.parquet",
            "--on-error",
            "quarantine",
            "--quarantine-dir",
            "q",
        ]
    )
    assert code == 0
    assert "5,662 flows written, 1 refused" in capsys.readouterr().out
    [record] = [json.loads(x) for x in Path("q/bad.log.quarantine.jsonl").read_text().splitlines()]
    assert record["line"] == 21 and record["field"] == "ts"


def test_validate_counts_every_problem_and_exits_2(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "validate", str(ZEEK_008)]) == 0
    assert "5,663 valid flows, no errors" in capsys.readouterr().out
    lines = ZEEK_008.read_text().splitlines()
    fields = lines[10].split("\t")
    fields[5] = "70000"  # id.resp_p of line 11
    lines[10] = "\t".join(fields)
    lines[11] = lines[11][:30]  # line 12 truncated
    Path("bad.log").write_text("\n".join(lines) + "\n")
    assert main(["data", "validate", "bad.log"]) == 2
    captured = capsys.readouterr()
    assert "2 invalid row(s), 0 unreadable file(s) in bad.log; 5,661 valid rows" in captured.err
    assert "dst_port: above 65535" in captured.out and "line 12" in captured.out


def test_summary_and_unknown_format(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "summary", str(ZEEK_008)]) == 0
    out = capsys.readouterr().out
    assert "5,663" in out and "External-Attack-to-Device" in out
    Path("notes.txt").write_text("just some notes\n")
    assert main(["data", "summary", "notes.txt"]) == 2
    assert "notes.txt: unrecognised flow format" in capsys.readouterr().err
