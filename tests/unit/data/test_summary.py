"""Flow summaries: exact counts, mergeable over batches, rendered with rich."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from flow_writers import sample_flows, write_zeek_tsv
from rich.console import Console

from nids.data import read_flows, validate_flows
from nids.data.summary import FlowSummary, summarise_flows
from support import ZEEK_008


def test_counts_of_sample_flows() -> None:
    s = FlowSummary().add(validate_flows(sample_flows()))
    assert s.rows == 3
    assert s.end is not None and s.start is not None
    assert s.end - s.start == pd.Timedelta(seconds=2)
    assert s.labels == {"benign": 2, "malicious": 1}
    assert s.attack_types == {"SSH-Bruteforce": 1}
    assert s.protos == {"tcp": 2, "udp": 1}
    assert s.services == {"ssl": 1, "dns": 1, "(none)": 1}
    assert s.dst_ports == {"tcp/443": 1, "tcp/22": 1, "udp/53": 1}
    assert s.total_bytes == 1200 + 5400 + 60 + 0 + 80 + 160
    assert (len(s.src_ips), len(s.dst_ips)) == (3, 3)


def test_streamed_summary_equals_whole_frame_summary(tmp_path: Path) -> None:
    whole = FlowSummary().add(read_flows(ZEEK_008)).as_dict()
    streamed = summarise_flows(ZEEK_008, batch_rows=500).as_dict()
    assert streamed == whole
    assert whole["rows"] == 5663
    assert whole["labels"] == {"malicious": 4201, "benign": 1402, "unknown": 60}


def test_rich_rendering_lists_the_mixes(tmp_path: Path) -> None:
    write_zeek_tsv(sample_flows(), tmp_path / "conn.log")
    console = Console(record=True, width=120)
    console.print(summarise_flows(tmp_path / "conn.log").to_rich())
    text = console.export_text()
    for fragment in ("rows", "SSH-Bruteforce", "tcp/443", "conn_state", "66.7%"):
        assert fragment in text
