"""Readers on real labelled Zeek data and on hand-written files of every layout."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flow_writers import sample_flows, write_cic, write_nf_v9, write_parquet, write_zeek_tsv

from nids.data import iter_flow_batches, read_flows, read_flows_report
from nids.data.readers._map import derive_conn_state
from nids.data.schema import ACK, COLUMNS, FIN, PSH, RST, SYN
from nids.errors import DataError, EmptyDataError, SchemaError, UnknownFormatError
from support import ZEEK_008, ZEEK_010


@pytest.mark.parametrize(
    ("path", "rows", "labels", "first", "last"),
    [
        (ZEEK_008, 5663, {"benign": 1402, "malicious": 4201, "unknown": 60}, "2022-06-12 17:53", "2022-06-13 21:59"),
        (ZEEK_010, 5347, {"benign": 1937, "malicious": 3373, "unknown": 37}, "2022-06-13 22:00", "2022-06-14 22:00"),
    ],
)  # fmt: skip
def test_stratosphere_zeek_counts_match_the_data_readme(
    path: Path, rows: int, labels: dict[str, int], first: str, last: str
) -> None:
    df, report = read_flows_report(path)
    assert len(df) == rows
    assert df["label"].value_counts().to_dict() == labels
    assert report.quarantined == 0 and report.sources[0].fmt == "zeek-tsv"
    assert list(df.columns) == COLUMNS
    assert df["ts"].min().strftime("%Y-%m-%d %H:%M") == first
    # README spans are rounded to the minute
    assert abs(df["ts"].max() - pd.Timestamp(last, tz="UTC")) < pd.Timedelta(minutes=1)
    malicious = df.loc[df["label"] == "malicious", "attack_type"]
    assert set(malicious) == {"External-Attack-to-Device"}
    assert df["community_id"].str.startswith("1:").all()


def test_zeek_fields_map_to_the_ip_layer_counts_and_history_flags() -> None:
    df = read_flows(ZEEK_008)
    first = df.iloc[0]  # 147.32.81.167:62771 -> 40.74.108.123:443 tcp ssl, history ShADdaFf
    assert (first["src_ip"], first["src_port"], first["dst_port"]) == ("147.32.81.167", 62771, 443)
    assert (first["src_bytes"], first["dst_bytes"], first["src_pkts"], first["dst_pkts"]) == (
        1016,
        1226,
        14,
        16,
    )
    assert first["tcp_flags"] == SYN | ACK | FIN
    assert (first["conn_state"], first["service"], first["attack_type"]) == (
        "SF",
        "ssl",
        "Microsoft",
    )
    assert df.loc[df["proto"] != "tcp", "tcp_flags"].isna().all()


def test_glob_directory_and_gzip_sources_concatenate_with_per_source_counts(tmp_path: Path) -> None:
    flows = sample_flows()
    (tmp_path / "d").mkdir()
    write_zeek_tsv(flows, tmp_path / "d" / "a.log")
    write_parquet(flows, tmp_path / "d" / "b.parquet")
    (tmp_path / "d" / "c.log.gz").write_bytes(
        gzip.compress((tmp_path / "d" / "a.log").read_bytes())
    )
    df, report = read_flows_report(tmp_path / "d")
    assert len(df) == 9
    assert [(Path(s.source).name, s.fmt, s.rows) for s in report.sources] == [
        ("a.log", "zeek-tsv", 3),
        ("b.parquet", "parquet", 3),
        ("c.log.gz", "zeek-tsv", 3),
    ]
    assert len(read_flows(str(tmp_path / "d" / "*.log*"))) == 6


def test_streaming_batches_keep_true_line_numbers(tmp_path: Path) -> None:
    flows = pd.concat([sample_flows()] * 200, ignore_index=True)  # 600 rows
    path = tmp_path / "conn.log"
    write_zeek_tsv(flows, path)
    batches = list(iter_flow_batches(path, batch_rows=50))
    assert len(batches) > 5 and sum(len(b) for b in batches) == 600
    lines = path.read_text().splitlines()
    lines[500] = lines[500].replace("\t22\t", "\t70000\t", 1)  # line 501 of the file
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError, match=r"line 501, field 'dst_port': above 65535") as err:
        list(iter_flow_batches(path, batch_rows=50))
    assert err.value.line == 501 and err.value.field == "dst_port"


def test_columns_selects_canonical_columns(tmp_path: Path) -> None:
    write_parquet(sample_flows(), tmp_path / "f.parquet")
    df = read_flows(tmp_path / "f.parquet", columns=["ts", "dst_port"])
    assert list(df.columns) == ["ts", "dst_port"] and df["dst_port"].tolist() == [443, 22, 53]


def test_cic_without_addresses_or_protocol_uses_documented_stand_ins(tmp_path: Path) -> None:
    path = tmp_path / "Monday-WorkingHours.pcap_ISCX.csv"
    path.write_text(
        " Destination Port, Flow Duration, Total Fwd Packets, Total Backward Packets,"
        "Total Length of Fwd Packets, Total Length of Bwd Packets, SYN Flag Count, ACK Flag Count, Label\n"
        "80,2500000,3,2,100,200,1,1,BENIGN\n"
        "53,1000,1,1,40,80,0,0,BENIGN\n"
        "22,-5,1,0,0,0,1,0,SSH-Patator\n"
    )
    df, report = read_flows_report(path, on_error="quarantine", quarantine_dir=tmp_path / "q")
    assert df["src_ip"].tolist() == ["0.0.0.0", "0.0.0.0"] and df["proto"].tolist() == [
        "tcp",
        "udp",
    ]
    assert df["duration"].tolist() == [2.5, 0.001]
    assert df["tcp_flags"].tolist()[0] == SYN | ACK and pd.isna(df["tcp_flags"].tolist()[1])
    # the negative CIC duration (a known defect of the dataset) is quarantined, not dropped
    assert report.quarantined == 1 and report.reasons == {"duration: negative value": 1}


def test_nf_v9_labels_attacks_and_ndpi_services(tmp_path: Path) -> None:
    flows = sample_flows()
    flows.loc[0, "attack_type"] = None
    write_nf_v9(flows, tmp_path / "nf.csv")
    df = read_flows(tmp_path / "nf.csv")
    assert df["label"].tolist() == ["benign", "malicious", "benign"]
    assert df["attack_type"].isna().tolist() == [True, False, True]
    assert df["service"].tolist()[0] == "ssl" and df["service"].tolist()[2] == "dns"
    assert df["conn_state"].tolist() == ["SF", "S0", "SF"]


def test_cic_labels_are_attack_names(tmp_path: Path) -> None:
    flows = sample_flows()
    flows.loc[0, "attack_type"] = None
    write_cic(flows, tmp_path / "cic.csv")
    df = read_flows(tmp_path / "cic.csv")
    assert df["label"].tolist() == ["benign", "malicious", "benign"]
    assert df["attack_type"].tolist()[1] == "SSH-Bruteforce"


@pytest.mark.parametrize(
    ("proto", "flags", "src_pkts", "dst_pkts", "state"),
    [
        ("tcp", SYN, 2, 0, "S0"),  # SYN, no answer
        ("tcp", SYN | RST, 1, 1, "REJ"),  # refused: RST from the responder
        ("tcp", SYN | ACK | RST | PSH, 8, 6, "RSTO"),  # reset after data
        ("tcp", SYN | ACK | FIN, 10, 8, "SF"),  # normal open and close
        ("tcp", SYN | ACK, 10, 8, "S1"),  # established, not closed
        ("tcp", ACK | PSH, 5, 5, "OTH"),  # mid-stream, no SYN seen
        ("tcp", SYN | ACK | FIN, 10, 0, "SF"),  # unidirectional NetFlow record
        ("tcp", None, 1, 1, None),
        ("udp", None, 1, 1, "SF"),
        ("udp", None, 3, 0, "S0"),
        ("icmp", None, 1, 0, "S0"),
    ],
)
def test_conn_state_derivation_rules(
    proto: str, flags: int | None, src_pkts: int, dst_pkts: int, state: str | None
) -> None:
    got = derive_conn_state(
        pd.Series([proto]),
        pd.Series(pd.array([flags], dtype="Int64")),
        np.array([src_pkts]),
        np.array([dst_pkts]),
    )
    assert (got.isna().iloc[0] and state is None) or got.iloc[0] == state


def test_nfdump_icmp_type_code_and_summary_trailer(tmp_path: Path) -> None:
    path = tmp_path / "nf.csv"
    path.write_text(
        "ts,te,td,sa,da,sp,dp,pr,flg,ipkt,ibyt,opkt,obyt\n"
        "2019-03-05 10:00:00.123,2019-03-05 10:00:00.124,0.001,10.0.0.1,10.0.0.2,0,8.0,ICMP,........,1,84,0,0\n"
        "\n"
        "Summary\n"
        "flows,bytes,packets,avg_bps,avg_pps,avg_bpp\n"
        "1,84,1,0,0,84\n"
    )
    df = read_flows(path)
    assert len(df) == 1
    row = df.iloc[0]
    assert (row["proto"], row["src_port"], row["dst_port"]) == ("icmp", 8, 0)
    assert row["ts"] == pd.Timestamp("2019-03-05 10:00:00.123", tz="UTC")
    assert pd.isna(row["tcp_flags"]) and row["conn_state"] == "S0"


def test_forced_format_that_does_not_fit_names_the_missing_column(tmp_path: Path) -> None:
    write_zeek_tsv(sample_flows(), tmp_path / "conn.log")
    with pytest.raises(SchemaError, match="missing required column PROTOCOL"):
        read_flows(tmp_path / "conn.log", fmt="nf-v9")
    with pytest.raises(UnknownFormatError, match="unknown format 'netflow'"):
        read_flows(tmp_path / "conn.log", fmt="netflow")


def test_missing_sources_and_empty_globs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or directory"):
        read_flows(tmp_path / "nope.parquet")
    with pytest.raises(EmptyDataError, match="no input files match"):
        read_flows(str(tmp_path / "*.parquet"))


def test_quarantine_mode_keeps_other_files_when_one_is_unreadable(tmp_path: Path) -> None:
    write_parquet(sample_flows(), tmp_path / "good.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"bad\.parquet: cannot read parquet"):
        read_flows(tmp_path)
    df, report = read_flows_report(tmp_path, on_error="quarantine", quarantine_dir=tmp_path / "q")
    assert len(df) == 3
    [bad] = report.failed_sources
    assert bad.source.endswith("bad.parquet") and "cannot read parquet" in (bad.error or "")
    assert (tmp_path / "q" / "bad.parquet.quarantine.jsonl").exists()


def test_corrupt_gzip_is_a_data_error(tmp_path: Path) -> None:
    write_zeek_tsv(pd.concat([sample_flows()] * 50), tmp_path / "a.log")
    data = gzip.compress((tmp_path / "a.log").read_bytes())
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.gz: corrupt compressed data"):
        read_flows(tmp_path / "cut.gz")
    (tmp_path / "bad.gz").write_bytes(data[:20] + b"xxxxxxxx" + data[28:])
    with pytest.raises(UnknownFormatError, match=r"bad\.gz: gzip data that does not decompress"):
        read_flows(tmp_path / "bad.gz")


def test_an_empty_file_among_others_is_reported_not_fatal(tmp_path: Path) -> None:
    write_parquet(sample_flows(), tmp_path / "a.parquet")
    (tmp_path / "b.log").write_text("")
    df, report = read_flows_report(tmp_path)
    assert len(df) == 3
    assert [s.error for s in report.sources] == [None, f"{tmp_path / 'b.log'}: the file is empty"]


def test_iot23_style_space_joined_label_fields(tmp_path: Path) -> None:
    write_zeek_tsv(sample_flows(), tmp_path / "conn.log")
    text = (tmp_path / "conn.log").read_text()
    joined = text.replace(
        "\ttunnel_parents\tlabel\tdetailedlabel", "\ttunnel_parents   label   detailedlabel"
    )
    lines = [
        line
        if line.startswith("#") or not line
        else "\t".join(line.split("\t")[:-3]) + "\t" + "   ".join(line.split("\t")[-3:])
        for line in joined.split("\n")
    ]
    (tmp_path / "conn.log").write_text("\n".join(lines))
    df = read_flows(tmp_path / "conn.log")
    assert df["label"].tolist() == ["benign", "malicious", "benign"]
    assert df["attack_type"].tolist()[1] == "SSH-Bruteforce"


def test_a_named_file_costs_one_metadata_request_a_directory_is_walked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fsspec.implementations.local import LocalFileSystem

    from nids.data.readers import sources

    calls: list[str] = []

    class CountingFS(LocalFileSystem):
        def info(self, path: str, **kwargs: object) -> dict:
            calls.append("info")
            return super().info(path, **kwargs)

        def isdir(self, path: str) -> bool:
            calls.append("isdir")
            return bool(super().isdir(path))

        def exists(self, path: str, **kwargs: object) -> bool:
            calls.append("exists")
            return bool(super().exists(path, **kwargs))

    monkeypatch.setattr(sources, "filesystem", lambda *_: CountingFS(skip_instance_cache=True))
    write_parquet(sample_flows(), tmp_path / "a.parquet")
    write_parquet(sample_flows(), tmp_path / "b.parquet")
    [one] = sources.expand(tmp_path / "a.parquet")
    assert calls == ["info"] and one.size == (tmp_path / "a.parquet").stat().st_size
    assert [f.name for f in sources.expand(tmp_path)] == [
        str(tmp_path / "a.parquet"),
        str(tmp_path / "b.parquet"),
    ]
    with pytest.raises(DataError, match="no such file or directory"):
        sources.expand(tmp_path / "nope.parquet")
