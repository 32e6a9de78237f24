"""Analyst feedback on alerts: durable verdicts, live precision, labelled flows.

One SQLAlchemy code path for SQLite (the default, ``settings.feedback_db_url``) and
PostgreSQL (``postgresql+psycopg2://...``). A verdict is keyed by the alert id
(or, without one, by Community ID and model version); recording a verdict for the
same key again replaces the earlier one, so an analyst can change their mind.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nids.data.schema import LABEL_BENIGN, LABEL_MALICIOUS
from nids.errors import DataError, ServiceUnavailableError

if TYPE_CHECKING:
    from rich.table import Table

    from nids.settings import Settings

VERDICTS = ("true_positive", "false_positive", "benign_interesting")
Verdict = Literal["true_positive", "false_positive", "benign_interesting"]
#: Ground truth a verdict gives the flow when it becomes training data.
VERDICT_LABELS = {
    "true_positive": LABEL_MALICIOUS,
    "false_positive": LABEL_BENIGN,
    "benign_interesting": LABEL_BENIGN,
}

_metadata = sa.MetaData()
feedback_table = sa.Table(
    "nids_feedback",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.String(128), index=True),
    sa.Column("community_id", sa.String(64), index=True),
    sa.Column("verdict", sa.String(32), nullable=False),
    sa.Column("model_name", sa.String(128)),
    sa.Column("model_version", sa.String(32), index=True),
    sa.Column("variant", sa.String(64)),
    sa.Column("analyst", sa.String(128)),
    sa.Column("comment", sa.Text),
    sa.Column("flow", sa.Text),  # the alerted flow as JSON, when the analyst sent it
    sa.Column("alert_ts", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class FeedbackIn(BaseModel):
    """One analyst verdict (the body of ``POST /v1/feedback``, one line of an import)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    verdict: Verdict = Field(description="true_positive, false_positive or benign_interesting.")
    alert_id: str | None = Field(None, max_length=128, description="Alert id from the alert.")
    community_id: str | None = Field(None, max_length=64, description="Flow Community ID.")
    model_name: str | None = Field(None, max_length=128)
    model_version: str | None = Field(None, max_length=32)
    variant: str | None = Field(None, max_length=64, description="A/B variant that alerted.")
    analyst: str | None = Field(None, max_length=128)
    comment: str | None = Field(None, max_length=4000)
    # Not strict: JSON carries times as ISO 8601 strings.
    alert_ts: datetime | None = Field(
        None, strict=False, description="When the alert fired (ISO 8601)."
    )
    flow: dict[str, Any] | None = Field(None, description="The alerted flow (schema columns).")

    @model_validator(mode="after")
    def _keyed(self) -> FeedbackIn:
        if not self.alert_id and not self.community_id:
            raise ValueError("give alert_id or community_id")
        return self


@dataclass
class FeedbackSummary:
    """Verdict counts and live precision for one model version."""

    model_name: str | None
    model_version: str | None
    true_positive: int
    false_positive: int
    benign_interesting: int
    first_alert: datetime | None
    last_alert: datetime | None

    @property
    def reviewed(self) -> int:
        """Alerts with a verdict."""
        return self.true_positive + self.false_positive + self.benign_interesting

    @property
    def precision(self) -> float | None:
        """Share of reviewed alerts that were real attacks (None before any review)."""
        return self.true_positive / self.reviewed if self.reviewed else None

    def false_positive_rate(self, n_flows: float, n_alerts: float) -> float | None:
        """Estimated FPR of a window of ``n_flows`` flows that raised ``n_alerts`` alerts.

        The reviewed alerts' false share is applied to all alerts: estimated false
        alerts / estimated benign flows.
        """
        precision = self.precision
        if precision is None or n_flows <= 0:
            return None
        benign = n_flows - n_alerts * precision
        return float(n_alerts * (1 - precision) / benign) if benign > 0 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "true_positive": self.true_positive,
            "false_positive": self.false_positive,
            "benign_interesting": self.benign_interesting,
            "reviewed": self.reviewed,
            "precision": self.precision,
            "first_alert": self.first_alert.isoformat() if self.first_alert else None,
            "last_alert": self.last_alert.isoformat() if self.last_alert else None,
        }


class FeedbackStore:
    """Verdicts in a SQL database reached by SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
            _metadata.create_all(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise ServiceUnavailableError(f"feedback database unavailable: {exc}") from exc

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def record(self, item: FeedbackIn | Mapping[str, Any]) -> int:
        """Store one verdict (replacing an earlier one for the same key); its row id."""
        return self.record_many([item])[0]

    def record_many(self, items: Iterable[FeedbackIn | Mapping[str, Any]]) -> list[int]:
        """Store verdicts in one transaction: all of them or, on any error, none."""
        parsed = [i if isinstance(i, FeedbackIn) else parse_feedback(i) for i in items]
        ids: list[int] = []
        try:
            with self.engine.begin() as conn:
                for item in parsed:
                    ids.append(_upsert(conn, item))
        except sa.exc.SQLAlchemyError as exc:
            raise ServiceUnavailableError(f"feedback database write failed: {exc}") from exc
        return ids

    def import_file(self, path: str | Path) -> int:
        """Import verdicts from CSV or JSON Lines (all or nothing); the number stored."""
        return len(self.record_many(read_feedback_file(path)))

    def summary(self, *, model_version: str | None = None) -> list[FeedbackSummary]:
        """Verdict counts per (model name, model version), optionally one version."""
        t = feedback_table
        query = sa.select(
            t.c.model_name,
            t.c.model_version,
            t.c.verdict,
            sa.func.count().label("n"),
            sa.func.min(t.c.alert_ts).label("first"),
            sa.func.max(t.c.alert_ts).label("last"),
        ).group_by(t.c.model_name, t.c.model_version, t.c.verdict)
        if model_version is not None:
            query = query.where(t.c.model_version == str(model_version))
        groups: dict[tuple[str | None, str | None], dict[str, Any]] = {}
        try:
            with self.engine.connect() as conn:
                rows = list(conn.execute(query))
        except sa.exc.SQLAlchemyError as exc:
            raise ServiceUnavailableError(f"feedback database read failed: {exc}") from exc
        for row in rows:
            g = groups.setdefault(
                (row.model_name, row.model_version), dict.fromkeys(VERDICTS, 0) | {"ts": []}
            )
            g[row.verdict] = int(row.n)
            g["ts"] += [_utc(x) for x in (row.first, row.last) if x is not None]
        return [
            FeedbackSummary(
                model_name=name,
                model_version=version,
                true_positive=g["true_positive"],
                false_positive=g["false_positive"],
                benign_interesting=g["benign_interesting"],
                first_alert=min(g["ts"]) if g["ts"] else None,
                last_alert=max(g["ts"]) if g["ts"] else None,
            )
            for (name, version), g in sorted(groups.items(), key=lambda kv: str(kv[0]))
        ]

    def labelled_flows(self, *, since: datetime | None = None) -> pd.DataFrame:
        """Flows analysts confirmed, labelled by verdict, for the next retrain.

        Only verdicts that carried the flow record contribute. ``label`` is
        ``malicious`` for true positives and ``benign`` otherwise; ``attack_type``
        keeps the verdict (``feedback:<verdict>``) so its origin stays visible.
        """
        t = feedback_table
        query = sa.select(t.c.flow, t.c.verdict, t.c.community_id).where(t.c.flow.is_not(None))
        if since is not None:
            query = query.where(t.c.created_at >= since)
        rows = []
        with self.engine.connect() as conn:
            for row in conn.execute(query.order_by(t.c.id)):
                flow = json.loads(row.flow)
                flow.setdefault("community_id", row.community_id)
                flow["label"] = VERDICT_LABELS[row.verdict]
                flow["attack_type"] = f"feedback:{row.verdict}"
                rows.append(flow)
        return pd.DataFrame(rows)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the zone


def _upsert(conn: sa.Connection, item: FeedbackIn) -> int:
    t = feedback_table
    # A later verdict on the same alert keeps what it does not restate (flow, times).
    values = item.model_dump(exclude={"flow"}, exclude_none=True)
    if item.flow is not None:
        values["flow"] = json.dumps(item.flow, default=str)
    values["created_at"] = datetime.now(UTC)
    if item.alert_id:
        key = t.c.alert_id == item.alert_id
    else:
        key = sa.and_(
            t.c.alert_id.is_(None),
            t.c.community_id == item.community_id,
            t.c.model_version == item.model_version
            if item.model_version
            else t.c.model_version.is_(None),
        )
    existing = conn.execute(sa.select(t.c.id).where(key)).scalar()
    if existing is not None:
        conn.execute(t.update().where(t.c.id == existing).values(**values))
        return int(existing)
    key_row = conn.execute(t.insert().values(**values)).inserted_primary_key
    assert key_row is not None  # an INSERT always has one
    return int(key_row[0])


def parse_feedback(
    raw: Mapping[str, Any], *, source: str | None = None, line: int | None = None
) -> FeedbackIn:
    """Validate one verdict record, naming the offending field on error."""
    data = {k: v for k, v in raw.items() if v not in (None, "")}
    if isinstance(data.get("alert_ts"), str):
        try:
            data["alert_ts"] = datetime.fromisoformat(data["alert_ts"].replace("Z", "+00:00"))
        except ValueError as exc:
            raise DataError(
                f"not an ISO 8601 time: {exc}", source=source, line=line, field="alert_ts"
            ) from exc
    if isinstance(data.get("flow"), str):  # CSV carries the flow as a JSON cell
        try:
            data["flow"] = json.loads(data["flow"])
        except json.JSONDecodeError as exc:
            raise DataError(
                f"invalid JSON: {exc.msg}", source=source, line=line, field="flow"
            ) from exc
    for key in ("model_version", "alert_id", "community_id"):
        if isinstance(data.get(key), int):
            data[key] = str(data[key])
    try:
        return FeedbackIn.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or None
        raise DataError(err["msg"], source=source, line=line, field=field) from exc


def read_feedback_file(path: str | Path) -> list[FeedbackIn]:
    """Parse a CSV (header row) or JSON Lines file of verdicts; errors name the line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read feedback file: {exc.strerror}", source=str(p)) from exc
    items: list[FeedbackIn] = []
    if p.suffix.lower() in {".jsonl", ".json", ".ndjson"}:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"invalid JSON: {exc.msg}", source=str(p), line=number) from exc
            if not isinstance(record, dict):
                raise DataError("expected a JSON object", source=str(p), line=number)
            items.append(parse_feedback(record, source=str(p), line=number))
    elif p.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        for number, record in enumerate(reader, start=2):  # line 1 is the header
            if None in record:
                raise DataError("more values than header columns", source=str(p), line=number)
            items.append(parse_feedback(record, source=str(p), line=number))
    else:
        raise DataError("feedback files must be .csv or .jsonl", source=str(p))
    if not items:
        raise DataError("no verdicts in the file", source=str(p))
    return items


def import_feedback(settings: Settings, path: str | Path) -> int:
    """`nids feedback import`: verdicts from a file into the configured store."""
    items = read_feedback_file(path)  # parse everything before touching the database
    store = FeedbackStore(settings.feedback_db_url)
    try:
        return len(store.record_many(items))
    finally:
        store.close()


def summary_table(settings: Settings) -> Table:
    """`nids feedback summary`: verdict counts and precision per model version."""
    from rich.table import Table

    store = FeedbackStore(settings.feedback_db_url)
    try:
        rows = store.summary()
    finally:
        store.close()
    table = Table("model", "version", "TP", "FP", "benign-interesting", "precision")
    for s in rows:
        precision = f"{s.precision:.3f}" if s.precision is not None else "-"
        table.add_row(
            s.model_name or "-",
            s.model_version or "-",
            str(s.true_positive),
            str(s.false_positive),
            str(s.benign_interesting),
            precision,
        )
    return table


def export_labelled_flows(settings: Settings, out: str | Path) -> int:
    """`nids feedback export`: labelled flows as parquet (written atomically); the count."""
    store = FeedbackStore(settings.feedback_db_url)
    try:
        frame = store.labelled_flows()
    finally:
        store.close()
    if frame.empty:
        raise DataError("no verdict carries its flow record: nothing to export")
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(target)
    return len(frame)
