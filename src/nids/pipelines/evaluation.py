"""Champion vs challenger on the same data: the latest held-out window plus analyst-confirmed flows.

The held-out window is the one training itself held out (``split_frame`` with the same
settings on the same sample), so the challenger is never scored on flows it was fitted
or calibrated on. Flows analysts confirmed through the feedback store (true positives
as malicious, false positives as benign) are appended: the production model's known
mistakes are part of the exam.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nids.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Comparison:
    """Figures of both models on one frame and the gate rule's verdict on them."""

    passed: bool
    mode: str
    candidate: dict[str, float]
    production: dict[str, float]
    reasons: list[str] = field(default_factory=list)
    champion_version: int | None = None
    eval_rows: int = 0
    feedback_rows: int = 0


def feedback_flows(settings: Settings) -> pd.DataFrame:
    """Analyst-confirmed flows as a canonical frame (empty without a feedback store)."""
    url = settings.feedback_db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return pd.DataFrame()  # never create a database just to find it empty
    from nids.data import validate_flows
    from nids.monitoring.feedback import FeedbackStore

    store = FeedbackStore(url)
    try:
        raw = store.labelled_flows()
    finally:
        store.close()
    if raw.empty:
        return raw
    complete = _complete_flow_records(raw)
    if complete.empty:
        return complete
    return validate_flows(
        complete,
        source="feedback store",
        on_error="quarantine",
        quarantine_dir=settings.quarantine_dir,
    )


def _complete_flow_records(raw: pd.DataFrame) -> pd.DataFrame:
    """Feedback rows whose flow record has every required field.

    Analysts may attach only a few fields (source, port) to a verdict: such a verdict
    still counts for precision, but cannot become a labelled flow. They are counted and
    logged, not validated as broken data (which would fail the whole retrain).
    """
    from nids.data.schema import REQUIRED_COLUMNS

    if any(c not in raw.columns for c in REQUIRED_COLUMNS):
        complete = raw.iloc[0:0]
    else:
        complete = raw.dropna(subset=REQUIRED_COLUMNS)
    if len(complete) < len(raw):
        log.warning(
            "feedback store: %d of %d verdicts carry no complete flow record "
            "and are not used as labelled flows",
            len(raw) - len(complete),
            len(raw),
        )
    return complete.reset_index(drop=True)


def evaluation_frame(
    settings: Settings, sample: pd.DataFrame, *, use_feedback: bool
) -> tuple[pd.DataFrame, int]:
    """(held-out window + feedback flows, number of feedback flows)."""
    from nids.training.split import split_frame

    _train, holdout, _method = split_frame(sample, settings.test_fraction, seed=settings.seed)
    extra = feedback_flows(settings) if use_feedback else pd.DataFrame()
    if extra.empty:
        return holdout.reset_index(drop=True), 0
    frame = pd.concat([holdout, extra[holdout.columns]], ignore_index=True)
    return frame, len(extra)


def production_scorer(settings: Settings) -> tuple[Any, int | None]:
    """The current production model's scorer and version (None, None when there is none)."""
    from nids.errors import RegistryError
    from nids.registry import load_model

    try:
        loaded = load_model(f"models:/{settings.model_name}@production", settings)
    except RegistryError:
        return None, None
    return loaded.nids_model.scorer, loaded.version


def compare_models(
    settings: Settings, challenger: Any, frame: pd.DataFrame, *, feedback_rows: int
) -> Comparison:
    """Score challenger and production on ``frame``; apply the registry's gate rule."""
    from nids.registry import gate

    k = settings.precision_k
    cand = gate.evaluate(challenger, frame, k=k)
    prod_scorer, version = production_scorer(settings)
    if prod_scorer is None:
        return Comparison(True, "no_incumbent", cand, {}, [], None, len(frame), feedback_rows)
    prod = gate.evaluate(prod_scorer, frame, k=k)
    result = gate.decide(
        cand, prod, labelled=gate.has_labels(frame), margin=settings.registry_gate_margin
    )
    return Comparison(
        result.passed, result.mode, cand, prod, list(result.reasons), version,
        len(frame), feedback_rows,
    )  # fmt: skip
