"""Small fitted scorers and flow archives for the batch engine tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flow_samples import make_flows
from nids.batch.frames import ModelTag
from nids.data.io import write_flows
from nids.model.pipeline import build_pipeline
from nids.model.scorer import Scorer
from nids.settings import Settings
from nids.training.trainer import fit_pipeline


def fitted_scorer(seed: int = 3) -> tuple[Scorer, pd.DataFrame]:
    """A scorer fitted on 2,000 hand-made flows (alerting on the top 2%) and 3,000 later
    flows (two days, 10% scanner attacks) to score."""
    flows = make_flows(5000, seed=seed, attack_share=0.1, days=4.0)
    pipeline = build_pipeline(Settings(n_estimators=25, max_samples=128, seed=seed))
    fit_pipeline(pipeline, flows.iloc[:2000])
    threshold = float(np.quantile(Scorer(pipeline, 0.0).score(flows.iloc[:2000]), 0.98))
    return Scorer(pipeline, threshold, top_k=2), flows.iloc[2000:].reset_index(drop=True)


def model_tag(scorer: Scorer) -> ModelTag:
    """A made-up registered version for the output columns."""
    return ModelTag("models:/nids-test/4", "nids-test", "4", "1.0.0", scorer.threshold)


def write_archive(flows: pd.DataFrame, root: Path, parts: int = 3) -> str:
    """``flows`` as ``parts`` consecutive parquet files under ``root``; their glob."""
    root.mkdir(parents=True, exist_ok=True)
    for i, chunk in enumerate(np.array_split(np.arange(len(flows)), parts)):
        write_flows(flows.iloc[chunk], root / f"flows-{i}.parquet")
    return str(root / "flows-*.parquet")


def read_output(path: Path | str) -> pd.DataFrame:
    """A batch output directory as one frame in input order (file, row)."""
    import pyarrow.dataset as ds

    table = ds.dataset(str(path), format="parquet", partitioning="hive").to_table()
    frame: Any = table.to_pandas()
    return frame.sort_values(["source_file", "source_row"]).reset_index(drop=True)
