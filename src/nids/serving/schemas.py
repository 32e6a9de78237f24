"""OpenAPI models of the service (documentation and response validation).

Request bodies are parsed by :mod:`nids.serving.parsing` (no per-row pydantic), but
the models here describe exactly what it accepts so generated clients and
schemathesis see the real contract: strict types, no extra fields.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Port = Annotated[int, Field(ge=0, le=65535)]
Count = Annotated[int, Field(ge=0, le=2**62)]


class FlowIn(BaseModel):
    """One flow in the canonical schema (see ``nids.data.schema``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    ts: str | float = Field(description="Flow start: ISO-8601 (UTC if no offset) or epoch s.")
    duration: Annotated[float, Field(ge=0)] = Field(description="Seconds.")
    src_ip: str = Field(description="Originator IPv4/IPv6 address.")
    src_port: Port
    dst_ip: str = Field(description="Responder IPv4/IPv6 address.")
    dst_port: Port
    proto: str | Annotated[int, Field(ge=0, le=255)] = Field(
        description="tcp, udp, icmp, ipv6-icmp, sctp ... or the IANA number."
    )
    src_bytes: Count
    dst_bytes: Count
    src_pkts: Count
    dst_pkts: Count
    tcp_flags: Annotated[int, Field(ge=0, le=255)] | None = None
    conn_state: str | None = None
    service: str | None = None
    community_id: str | None = Field(None, description="Computed when absent.")
    label: str | None = Field(None, description="Ignored by the model.")
    attack_type: str | None = Field(None, description="Ignored by the model.")


class ScoreRequest(BaseModel):
    """A batch of flows (also accepted as NDJSON, Arrow IPC or parquet bodies)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    flows: list[FlowIn] = Field(min_length=1)


class Contribution(BaseModel):
    """One feature behind a score, with an analyst-readable reason."""

    feature: str
    value: float
    contribution: float
    reason: str


class FlowScore(BaseModel):
    """The verdict on one flow."""

    community_id: str | None
    score: float = Field(description="Anomaly score, higher = more anomalous.")
    is_alert: bool
    suppressed: str | None = Field(
        description="Allow-list rule (cidr, port, scanner) that suppressed the alert, if any."
    )
    threshold: float
    model_name: str
    model_version: str
    model_semver: str | None
    variant: str = Field("default", description="A/B variant that scored the flow.")
    top_features: list[Contribution]


class ModelRefOut(BaseModel):
    """Which model answered."""

    name: str
    version: str
    semver: str | None


class ScoreResponse(BaseModel):
    """Scores in the order of the request's flows."""

    model: ModelRefOut
    n_flows: int
    n_alerts: int
    results: list[FlowScore]


class ModelOut(BaseModel):
    """The model in service."""

    name: str
    version: str
    semver: str | None
    uri: str
    verified: bool
    loaded_at: str
    threshold: float
    feature_names: list[str]
    tags: dict[str, str]
    metrics: dict[str, float]


class Status(BaseModel):
    """Liveness / readiness."""

    status: str
    model_version: str | None = None
    detail: str | None = None


class ErrorItem(BaseModel):
    """Where a request is wrong."""

    row: int | None = Field(description="1-based flow (or NDJSON line) number.")
    field: str | None


class ErrorOut(BaseModel):
    """An error answer: a message and, for input errors, where."""

    detail: str
    errors: list[ErrorItem] = []


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error statuses."""
    text = {
        401: "Missing or wrong bearer token.",
        413: "Body too large or too many flows.",
        415: "Unsupported content type.",
        422: "Invalid input; names the row and field.",
        503: "No verified model loaded yet.",
    }
    return {code: {"model": ErrorOut, "description": text[code]} for code in codes}


def score_request_openapi() -> dict[str, Any]:
    """``openapi_extra`` of /v1/score: its query parameter and body in all media types.

    The route parses both itself (no per-request FastAPI models); this is the contract.
    """
    from nids.serving.parsing import ARROW_TYPES, NDJSON_TYPES, PARQUET_TYPES

    binary = {"schema": {"type": "string", "format": "binary"}}
    content: dict[str, Any] = {
        "application/json": {"schema": {"$ref": "#/components/schemas/ScoreRequest"}},
        NDJSON_TYPES[0]: {
            "schema": {"type": "string", "description": "One FlowIn JSON object per line."}
        },
        ARROW_TYPES[0]: binary,
        PARQUET_TYPES[0]: binary,
    }
    explain = {
        "name": "explain",
        "in": "query",
        "required": False,
        "description": "Which flows get top_features: alerts, all or none.",
        "schema": {"type": "string", "enum": ["alerts", "all", "none"], "default": "alerts"},
    }
    return {"parameters": [explain], "requestBody": {"required": True, "content": content}}
