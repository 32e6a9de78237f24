"""The A/B experiment file: variants with model URIs and weights, assignment key, guardrails.

Example (YAML or JSON)::

    name: isoforest-v2-vs-v1
    assign_by: src_ip            # src_ip (default), community_id, or header:X-Tenant
    variants:
      - {name: control, model_uri: "models:/nids-isoforest@production", weight: 0.8}
      - {name: candidate, model_uri: "models:/nids-isoforest/2", weight: 0.2}
      - {name: shadow-v3, model_uri: "models:/nids-isoforest/3", shadow: true, sample: 0.5}
    guardrails:                  # applied to every routed non-control variant
      min_requests: 50
      max_error_rate: 0.01
      max_p99_latency_ms: 250
      max_alert_rate: 0.05
    verdict: {alpha: 0.05, power: 0.8, min_detectable_effect: 0.05}

The first routed variant is the control unless one says ``control: true``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nids.errors import ConfigError


class Variant(BaseModel):
    """One arm of the experiment."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    model_uri: str = Field(min_length=1, description="Model the variant serves.")
    weight: float = Field(0.0, ge=0, description="Share of hosts routed to it (normalised).")
    shadow: bool = Field(False, description="Scores off the request path; never alerts.")
    sample: float = Field(1.0, gt=0, le=1, description="Shadow: share of flows it scores.")
    control: bool = Field(False, description="The baseline the others are compared with.")


class Guardrails(BaseModel):
    """Conditions that cut a candidate off (it keeps its hosts' traffic on the control)."""

    model_config = ConfigDict(extra="forbid")

    min_requests: int = Field(20, ge=1, description="Requests seen before any rule applies.")
    window_requests: int = Field(500, ge=10, description="Rolling window of recent requests.")
    max_error_rate: float | None = Field(0.05, ge=0, le=1)
    max_p99_latency_ms: float | None = Field(None, gt=0)
    min_alert_rate: float | None = Field(None, ge=0, le=1)
    max_alert_rate: float | None = Field(None, ge=0, le=1)


class VerdictRule(BaseModel):
    """The statistical test behind ``nids ab report``'s verdict."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(0.05, gt=0, lt=0.5, description="Two-sided significance level.")
    power: float = Field(0.8, gt=0.5, lt=1, description="Power at the minimum effect.")
    min_detectable_effect: float = Field(
        0.05, gt=0, lt=1, description="Smallest precision difference worth detecting (absolute)."
    )


class ExperimentConfig(BaseModel):
    """A whole experiment."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    assign_by: str = Field("src_ip", description="src_ip, community_id or header:<Name>.")
    variants: list[Variant] = Field(min_length=1)
    guardrails: Guardrails = Field(default_factory=Guardrails)
    verdict: VerdictRule = Field(default_factory=VerdictRule)

    @model_validator(mode="after")
    def _check(self) -> ExperimentConfig:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique: {names}")
        routed = self.routed
        if not routed or sum(v.weight for v in routed) <= 0:
            raise ValueError("at least one non-shadow variant needs a positive weight")
        if sum(v.control for v in self.variants) > 1:
            raise ValueError("at most one variant can be the control")
        if any(v.control and v.shadow for v in self.variants):
            raise ValueError("the control cannot be a shadow variant")
        key = self.assign_by
        if key not in {"src_ip", "community_id"} and not (
            key.startswith("header:") and len(key) > len("header:")
        ):
            raise ValueError(
                f"assign_by must be src_ip, community_id or header:<Name>, not {key!r}"
            )
        return self

    @property
    def routed(self) -> list[Variant]:
        """Variants that take live traffic (in file order: the assignment order)."""
        return [v for v in self.variants if not v.shadow]

    @property
    def shadows(self) -> list[Variant]:
        """Variants scored off the request path."""
        return [v for v in self.variants if v.shadow]

    @property
    def control(self) -> Variant:
        """The baseline variant."""
        return next((v for v in self.variants if v.control), self.routed[0])

    @property
    def candidates(self) -> list[Variant]:
        """Every variant but the control (routed and shadow)."""
        return [v for v in self.variants if v.name != self.control.name]

    def weights(self) -> dict[str, float]:
        """Routed variants' normalised weights, in assignment order."""
        total = sum(v.weight for v in self.routed)
        return {v.name: v.weight / total for v in self.routed}


def parse_experiment(doc: Any, *, source: str = "experiment") -> ExperimentConfig:
    """Validate an already-parsed experiment document; errors name the field."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a mapping with name and variants")
    try:
        return ExperimentConfig.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise ConfigError(f"{source}: {where}: {err['msg']}") from None


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read an experiment file (YAML or JSON)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read experiment config: {exc.strerror}") from None
    try:
        import yaml

        doc = yaml.safe_load(text) if not source.endswith(".json") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{source}: not valid YAML/JSON: {exc}") from None
    return parse_experiment(doc, source=source)
