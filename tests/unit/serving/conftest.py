"""A small real model (fitted pipeline + Scorer in a NidsModel) for serving unit tests."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from serving_fixtures import flow_records

from nids.settings import Settings


@pytest.fixture(scope="session")
def flows() -> pd.DataFrame:
    """Generated canonical flows with attacks."""
    from nids.data.generator import generate_flows

    return generate_flows(2500, days=1, attack_share=0.05, seed=3)


@pytest.fixture(scope="session")
def fitted_pipeline(flows: pd.DataFrame) -> Any:
    """The project's pipeline fitted on ``flows`` (small forest: fast)."""
    from nids.model.pipeline import build_pipeline

    pipeline = build_pipeline(Settings(n_estimators=25, max_samples=128, seed=0))
    pipeline.fit(flows)
    return pipeline


@pytest.fixture
def records(flows: pd.DataFrame) -> list[dict[str, Any]]:
    """The first 50 flows as JSON objects."""
    return flow_records(flows.head(50))
