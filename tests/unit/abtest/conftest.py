"""A scored, labelled generated traffic sample for verdict tests (one small real model)."""

from __future__ import annotations

import pytest
from ab_samples import Scored

from nids.settings import Settings


@pytest.fixture(scope="session")
def scored() -> Scored:
    from nids.data.generator import generate_flows
    from nids.model.pipeline import build_pipeline
    from nids.model.scorer import Scorer

    train = generate_flows(3000, days=1, attack_share=0.0, seed=11)
    pipeline = build_pipeline(Settings(n_estimators=25, max_samples=128, seed=0))
    pipeline.fit(train)
    flows = generate_flows(20_000, days=2, attack_share=0.05, seed=12)
    return Scored(flows, Scorer(pipeline, 0.5).score(flows))
