"""The NIDS pyfunc: log, load through MLflow, predict the same scores; schema enforced."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from flow_samples import make_flows
from nids.model.pipeline import build_pipeline
from nids.model.pyfunc import NidsModel, log_nids_model, to_model_input
from nids.model.scorer import Scorer
from nids.settings import Settings
from nids.training.trainer import fit_pipeline


@pytest.mark.slow
def test_round_trip_through_mlflow_gives_equal_scores_and_enforces_the_schema(
    workdir: Path,
) -> None:
    flows = make_flows(600, seed=5, attack_share=0.05)
    settings = Settings(n_estimators=20, max_samples=64)
    pipeline = build_pipeline(settings)
    fit_pipeline(pipeline, flows.iloc[:400])
    test = flows.iloc[400:]
    scorer = Scorer(pipeline, 0.55, top_k=2)
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    with warnings.catch_warnings(record=True) as caught, mlflow.start_run() as run:
        warnings.simplefilter("always")
        info = log_nids_model(
            pipeline,
            0.55,
            input_example=test.head(3),
            reference_profile={"profile_version": "test"},
            home_networks=settings.home_networks,
            feature_set_version="9.9.9",
            detector="isoforest",
            top_k=2,
        )
    # The signature is declared, so MLflow has no integer-column inference to warn about.
    assert not [w for w in caught if "Hint: Inferred schema" in str(w.message)]
    assert info.signature is not None
    required = {c.name: c.required for c in info.signature.inputs.inputs}
    assert required["src_ip"] and not required["service"] and not required["tcp_flags"]
    assert "label" not in required

    loaded = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    out = loaded.predict(to_model_input(test))
    np.testing.assert_allclose(out["score"].to_numpy(), scorer.score(test), atol=1e-12)
    np.testing.assert_array_equal(out["is_alert"].to_numpy(), scorer.score(test) > 0.55)
    assert (out["top_features"] == scorer.predict_frame(test)["top_features"].to_numpy()).all()

    # Flows without TCP flags (UDP/ICMP sensors report none) pass the schema too.
    flagless = test.copy()
    flagless.loc[flagless.index[::2], "tcp_flags"] = pd.NA
    assert flagless["tcp_flags"].isna().sum() > 0
    out_flagless = loaded.predict(to_model_input(flagless))
    np.testing.assert_allclose(out_flagless["score"].to_numpy(), scorer.score(flagless), atol=1e-12)

    quiet = loaded.predict(to_model_input(test), params={"explain": "none"})
    assert (quiet["top_features"] == "[]").all()

    model = loaded.unwrap_python_model()
    assert isinstance(model, NidsModel) and model.scorer is not None
    assert model.config["feature_set_version"] == "9.9.9"
    assert model.config["threshold"] == 0.55
    assert model.config["feature_names"] == scorer.feature_names
    assert model.reference_profile == {"profile_version": "test"}
    files = {p.name for p in Path(loaded.metadata.get_model_info().artifact_path or ".").glob("*")}
    assert "python_model.pkl" not in files  # logged as code: loading unpickles nothing

    with pytest.raises(MlflowException, match="src_ip"):
        loaded.predict(to_model_input(test).drop(columns=["src_ip"]))
    bad = to_model_input(test).astype({"src_bytes": "str"})
    bad.loc[bad.index[0], "src_bytes"] = "lots"
    with pytest.raises(MlflowException):
        loaded.predict(bad)
    # The optional columns may be left out.
    partial = loaded.predict(to_model_input(test).drop(columns=["service", "tcp_flags"]))
    assert len(partial) == len(test)
    assert json.loads(out["top_features"].iloc[int(np.argmax(out["score"]))])
