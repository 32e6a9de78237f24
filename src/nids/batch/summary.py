"""The summary of one batch run, the same JSON for both engines (``<output>/_summary.json``).

The file is written last: its presence marks a complete output (readers of the
partitioned parquet skip ``_``-prefixed files).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nids.batch.frames import ModelTag
from nids.data.readers import ReadReport

SUMMARY_FILE = "_summary.json"


@dataclass
class BatchSummary:
    """Counts of a batch scoring run."""

    engine: str
    source: str
    output: str
    model: ModelTag
    rows: int = 0
    alerts: int = 0
    #: (date, hour) -> [rows, alerts]
    partitions: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0
    #: live hosts the local engine's context state had to evict (None: not tracked)
    context_hosts_evicted: int | None = 0

    def add_counts(self, date: str, hour: int, rows: int, alerts: int) -> None:
        """Count ``rows`` flows (``alerts`` of them alerts) of one partition."""
        slot = self.partitions.setdefault((date, int(hour)), [0, 0])
        slot[0] += int(rows)
        slot[1] += int(alerts)
        self.rows += int(rows)
        self.alerts += int(alerts)

    def add_table(self, table: Any) -> None:
        """Count a scored Arrow table (:data:`~nids.batch.frames.OUTPUT_SCHEMA`)."""
        rows: Counter[tuple[str, int]] = Counter()
        alerts: Counter[tuple[str, int]] = Counter()
        grouped = table.group_by(["date", "hour"]).aggregate(
            [("is_alert", "sum"), ("date", "count")]
        )
        for date, hour, n_alerts, n in zip(
            grouped["date"].to_pylist(),
            grouped["hour"].to_pylist(),
            grouped["is_alert_sum"].to_pylist(),
            grouped["date_count"].to_pylist(),
            strict=True,
        ):
            rows[(date, hour)] += n
            alerts[(date, hour)] += n_alerts or 0
        for key, n in rows.items():
            self.add_counts(key[0], key[1], n, alerts[key])

    def add_report(self, report: ReadReport) -> None:
        """Record what the readers did with each input file."""
        self.sources.extend(source_dict(s) for s in report.sources)

    @property
    def refused_rows(self) -> int:
        """Rows the readers refused (quarantined) over all inputs."""
        return sum(int(s["refused"]) for s in self.sources)

    def to_dict(self) -> dict[str, Any]:
        """JSON view (partitions in time order)."""
        return {
            "engine": self.engine,
            "source": self.source,
            "output": self.output,
            "model": self.model.to_dict(),
            "rows": self.rows,
            "alerts": self.alerts,
            "alert_rate": self.alerts / self.rows if self.rows else 0.0,
            "refused_rows": self.refused_rows,
            "failed_sources": sorted(str(s["source"]) for s in self.sources if s["error"]),
            "elapsed_s": round(self.elapsed_s, 3),
            "flows_per_s": round(self.rows / self.elapsed_s, 1) if self.elapsed_s > 0 else None,
            "context_hosts_evicted": self.context_hosts_evicted,
            "partitions": [
                {"date": d, "hour": h, "rows": v[0], "alerts": v[1]}
                for (d, h), v in sorted(self.partitions.items())
            ],
            "sources": sorted(self.sources, key=lambda s: str(s["source"])),
        }

    def to_json(self) -> str:
        """Indented JSON text."""
        return json.dumps(self.to_dict(), indent=2)


def source_dict(s: Any) -> dict[str, Any]:
    """JSON view of a reader's :class:`~nids.data.readers.SourceReport`."""
    return {
        "source": s.source,
        "format": s.fmt,
        "rows": s.rows,
        "refused": s.quarantined,
        "reasons": dict(s.reasons),
        "quarantine_file": s.quarantine_file,
        "error": s.error,
    }
