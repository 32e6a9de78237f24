"""`prepare` (local engine): a stratified sample and its features with full-archive context."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from batch_fixtures import write_archive

from flow_samples import make_flows
from nids.batch.prepare import prepare_training_data
from nids.data import read_flows
from nids.features import build_feature_transformer
from nids.settings import Settings


def test_sample_and_full_context_features(tmp_path: Path) -> None:
    flows = make_flows(4000, seed=6, attack_share=0.05, days=0.01)
    source = write_archive(flows, tmp_path / "in", parts=2)
    settings = Settings(seed=11, batch_rows=1000)
    summary = prepare_training_data(
        settings, source, str(tmp_path / "out"), max_rows=400, min_per_stratum=5
    )
    sample = read_flows(tmp_path / "out" / "sample.parquet")
    assert len(sample) == summary["sample_rows"]
    assert 350 < len(sample) < 700
    assert sample["ts"].is_monotonic_increasing
    assert set(sample["label"]) == {"benign", "malicious"}
    written = json.loads((tmp_path / "out" / "_prepare.json").read_text())
    assert written["plan"]["total_rows"] == 4000
    assert sum(v["rows"] for v in written["plan"]["strata"].values()) == 4000

    features = pq.read_table(tmp_path / "out" / "features.parquet").to_pandas()
    assert len(features) == len(sample)
    # The same transformer fitted on the sample, run over the WHOLE archive in one
    # batch pass: the sampled rows' context features saw every flow of their host.
    transformer = build_feature_transformer(home_networks=settings.home_networks).fit(sample)
    full = transformer.transform(flows)
    rows = features["source_row"].to_numpy() + np.where(
        features["source_file"].str.endswith("flows-1.parquet"), 2000, 0
    )
    names = list(transformer.get_feature_names_out())
    np.testing.assert_allclose(features[names].to_numpy(), full[rows], atol=1e-9)
    alone = transformer.transform(sample)
    ctx = names.index("ctx_flows")
    # ...so they count more flows than the sample alone shows (this is the point).
    assert (features["ctx_flows"].to_numpy() >= alone[:, ctx]).all()
    assert (features["ctx_flows"].to_numpy() > alone[:, ctx]).mean() > 0.3


def test_refuses_unknown_engine(tmp_path: Path) -> None:
    from nids.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown engine"):
        prepare_training_data(Settings(), "x", str(tmp_path / "o"), engine="dask")
