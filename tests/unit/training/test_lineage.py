"""Dataset lineage: logged inputs carry the declared schema, rows and span, with no hint."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import mlflow
from mlflow.types.utils import _infer_schema

from flow_samples import make_flows
from nids.model.pyfunc import naive_utc_ts
from nids.training.lineage import frame_digest, log_datasets


def test_logged_datasets_have_mlflows_schema_digest_and_rows_without_the_hint(
    workdir: Path,
) -> None:
    flows = make_flows(1500, seed=2, attack_share=0.05)
    flows.loc[flows.index[1200], "service"] = None
    parts = {"training": flows.iloc[:1000], "testing": flows.iloc[1000:]}
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with mlflow.start_run() as run:
            log_datasets(str(workdir / "flows.parquet"), parts)
    assert not [w for w in caught if "Hint: Inferred schema" in str(w.message)]

    inputs = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    by_context = {
        next(t.value for t in d.tags if t.key == "mlflow.data.context"): d for d in inputs
    }
    assert set(by_context) == {"training", "testing"}
    for context, frame in parts.items():
        logged = by_context[context]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = _infer_schema(naive_utc_ts(frame)).to_dict()
        assert json.loads(logged.dataset.schema)["mlflow_colspec"] == expected
        assert json.loads(logged.dataset.profile)["num_rows"] == len(frame)
        assert logged.dataset.digest == frame_digest(frame)
        assert {t.key: t.value for t in logged.tags}["nids.rows"] == str(len(frame))
    service = {
        c["name"]: c for c in json.loads(by_context["testing"].dataset.schema)["mlflow_colspec"]
    }
    assert service["service"]["required"] is False
