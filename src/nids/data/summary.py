"""Summaries of flow data: size, time span, label and attack mix, protocol/service mix, ports."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

TOP = 10


@dataclass
class FlowSummary:
    """Mergeable counts over one or many batches of canonical flows."""

    rows: int = 0
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    total_bytes: int = 0
    labels: Counter[str] = field(default_factory=Counter)
    attack_types: Counter[str] = field(default_factory=Counter)
    protos: Counter[str] = field(default_factory=Counter)
    services: Counter[str] = field(default_factory=Counter)
    conn_states: Counter[str] = field(default_factory=Counter)
    dst_ports: Counter[str] = field(default_factory=Counter)
    src_ips: set[str] = field(default_factory=set)
    dst_ips: set[str] = field(default_factory=set)

    def add(self, df: pd.DataFrame) -> FlowSummary:
        """Add one batch of canonical flows; returns self."""
        if len(df) == 0:
            return self
        self.rows += len(df)
        lo, hi = df["ts"].min(), df["ts"].max()
        self.start = lo if self.start is None else min(self.start, lo)
        self.end = hi if self.end is None else max(self.end, hi)
        self.total_bytes += int(df["src_bytes"].sum() + df["dst_bytes"].sum())
        self.labels.update(_counts(df["label"], missing="(none)"))
        malicious = df["attack_type"][df["label"] == "malicious"]
        self.attack_types.update(_counts(malicious, missing="(unspecified)"))
        self.protos.update(_counts(df["proto"]))
        self.services.update(_counts(df["service"], missing="(none)"))
        self.conn_states.update(_counts(df["conn_state"], missing="(none)"))
        ports = df["proto"] + "/" + df["dst_port"].astype("str")
        self.dst_ports.update(_counts(ports))
        self.src_ips.update(df["src_ip"].unique().tolist())
        self.dst_ips.update(df["dst_ip"].unique().tolist())
        return self

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view (counts as plain dicts, top entries only for long tails)."""
        return {
            "rows": self.rows,
            "start": None if self.start is None else self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "total_bytes": self.total_bytes,
            "src_hosts": len(self.src_ips),
            "dst_hosts": len(self.dst_ips),
            "labels": dict(self.labels.most_common()),
            "attack_types": dict(self.attack_types.most_common(TOP)),
            "protos": dict(self.protos.most_common(TOP)),
            "services": dict(self.services.most_common(TOP)),
            "conn_states": dict(self.conn_states.most_common(TOP)),
            "dst_ports": dict(self.dst_ports.most_common(TOP)),
        }

    def to_rich(self) -> Any:
        """Rich renderables: an overview table and one table per mix."""
        from rich.console import Group
        from rich.table import Table

        overview = Table("measure", "value", title="Flows")
        overview.add_row("rows", f"{self.rows:,}")
        if self.start is not None and self.end is not None:
            overview.add_row("first flow (UTC)", str(self.start))
            overview.add_row("last flow (UTC)", str(self.end))
            overview.add_row("span", str(self.end - self.start))
        overview.add_row("bytes (both directions)", f"{self.total_bytes:,}")
        overview.add_row(
            "source / destination hosts", f"{len(self.src_ips):,} / {len(self.dst_ips):,}"
        )
        parts: list[Any] = [overview]
        for title, counts in (
            ("label", self.labels),
            ("attack type (malicious flows)", self.attack_types),
            ("protocol", self.protos),
            ("service", self.services),
            ("conn_state", self.conn_states),
            ("top destination ports", self.dst_ports),
        ):
            if not counts:
                continue
            table = Table(title, "flows", "share", title=title)
            for key, count in counts.most_common(TOP):
                table.add_row(str(key), f"{count:,}", f"{100 * count / max(self.rows, 1):.1f}%")
            parts.append(table)
        return Group(*parts)


def _counts(series: pd.Series, *, missing: str | None = None) -> dict[str, int]:
    counts = series.value_counts(dropna=True)
    out = {str(k): int(v) for k, v in counts.items()}
    if missing is not None:
        nulls = int(series.isna().sum())
        if nulls:
            out[missing] = nulls
    return out


def summarise_flows(source: str | os.PathLike[str], **read_options: Any) -> FlowSummary:
    """Summarise any readable source, streaming in bounded memory.

    ``read_options`` are those of :func:`nids.data.iter_flow_batches`.
    """
    from nids.data.readers import iter_flow_batches

    summary = FlowSummary()
    for batch in iter_flow_batches(source, **read_options):
        summary.add(batch)
    return summary
