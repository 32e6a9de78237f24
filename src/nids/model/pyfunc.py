"""The MLflow pyfunc wrapping the pipeline: scores, alerts and reasons from any MLflow server.

MLflow's stock sklearn flavour can only call ``predict``, which for an IsolationForest
is a ±1 label; analysts need the continuous score, the alert decision at the calibrated
threshold and the features behind it. The model's artefacts:

- ``pipeline.skops``: the fitted Pipeline (loaded against an exact type allow-list);
- ``model_config.json``: threshold, feature names, feature-set version, detector,
  top_k, home networks, package version;
- ``reference_profile.json``: the monitoring reference profile of the training data.

The model is logged "from code" (``pyfunc_code.py``), so loading unpickles nothing.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow.pyfunc
import pandas as pd
from mlflow.pyfunc import PythonModel

from nids.errors import ModelIntegrityError
from nids.model.scorer import Scorer
from nids.model.serialization import load_pipeline, save_pipeline

if TYPE_CHECKING:
    from mlflow.models.model import ModelInfo

MODEL_ARTIFACT_NAME = "model"
PIPELINE_FILE = "pipeline.skops"
CONFIG_FILE = "model_config.json"
PROFILE_FILE = "reference_profile.json"
#: Columns the schema lets be null; a request may leave them out or send nulls.
OPTIONAL_INPUT_COLUMNS = ("tcp_flags", "conn_state", "service")
# Nullable integer columns travel as doubles: MLflow's schema enforcement cannot put a
# missing value into an integer column, and UDP/ICMP flows have no TCP flags.
NULLABLE_INT_INPUT_COLUMNS = ("tcp_flags",)
#: Default of the ``explain`` request parameter (see ``Scorer.predict_frame``).
EXPLAIN_PARAM_DEFAULT = "alerts"
#: Runtime libraries whose exact versions are recorded with the model.
RUNTIME_PACKAGES = (
    "sec-ai-nids",
    "mlflow",
    "scikit-learn",
    "skops",
    "numpy",
    "pandas",
    "pyarrow",
    "numba",
    "scipy",
)


class NidsModel(PythonModel):
    """pyfunc whose ``predict`` returns ``Scorer.predict_frame`` for the input flows."""

    def __init__(self) -> None:
        self.scorer: Scorer | None = None
        self.config: dict[str, Any] = {}
        self.reference_profile: dict[str, Any] | None = None

    def load_context(self, context: Any) -> None:
        """Load the pipeline (allow-listed types only) and build the Scorer."""
        self.load_artifacts(context.artifacts)

    def load_artifacts(self, artifacts: dict[str, str]) -> None:
        """Build the Scorer from local artefact paths (``pipeline``, ``config``, ``profile``)."""
        try:
            self.config = json.loads(Path(artifacts["config"]).read_text(encoding="utf-8"))
            profile_path = artifacts.get("profile")
            if profile_path:
                self.reference_profile = json.loads(Path(profile_path).read_text("utf-8"))
        except (KeyError, OSError, ValueError) as exc:
            raise ModelIntegrityError(f"model configuration unreadable: {exc}") from exc
        pipeline = load_pipeline(artifacts["pipeline"])
        self.scorer = Scorer(
            pipeline, float(self.config["threshold"]), top_k=int(self.config.get("top_k", 3))
        )

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Score flows: community_id, score, is_alert, threshold, top_features."""
        if self.scorer is None:
            self.load_context(context)
        assert self.scorer is not None
        explain = (params or {}).get("explain", EXPLAIN_PARAM_DEFAULT)
        return self.scorer.predict_frame(from_model_input(model_input), explain=explain)


def to_model_input(df: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns of a canonical frame, ``ts`` as naive UTC.

    MLflow's ``datetime`` schema type only accepts timezone-naive values; the model
    reads naive timestamps as UTC.
    """
    from nids.data.schema import INPUT_COLUMNS

    return naive_utc_ts(df[[c for c in INPUT_COLUMNS if c in df.columns]])


def naive_utc_ts(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose timezone-aware ``ts`` is converted to naive UTC."""
    out = df.copy()
    if "ts" in out.columns and isinstance(out["ts"].dtype, pd.DatetimeTZDtype):
        out["ts"] = out["ts"].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def from_model_input(df: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`to_model_input`: naive ``ts`` back to UTC-aware, as everywhere else."""
    df = _restore_nullable_ints(df)
    ts = df["ts"] if "ts" in df.columns else None
    if ts is None or isinstance(ts.dtype, pd.DatetimeTZDtype):
        return df
    out = df.copy()
    out["ts"] = pd.to_datetime(ts, utc=True)
    return out


def _restore_nullable_ints(df: pd.DataFrame) -> pd.DataFrame:
    """Doubles that MLflow made of nullable integer columns back to the schema's Int16."""
    floats = [c for c in NULLABLE_INT_INPUT_COLUMNS if c in df.columns and df[c].dtype.kind == "f"]
    if not floats:
        return df
    out = df.copy()
    for column in floats:
        out[column] = out[column].round().astype("Int16")
    return out


def runtime_requirements() -> list[str]:
    """Pinned ``name==version`` of the installed runtime packages."""
    from importlib.metadata import PackageNotFoundError, version

    reqs = []
    for name in RUNTIME_PACKAGES:
        try:
            reqs.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return reqs


def model_config(
    scorer: Scorer, *, home_networks: Sequence[str], feature_set_version: str, detector: str
) -> dict[str, Any]:
    """The ``model_config.json`` content for a fitted scorer."""
    from importlib.metadata import version

    return {
        "threshold": scorer.threshold,
        "top_k": scorer.top_k,
        "feature_names": scorer.feature_names,
        "feature_set_version": feature_set_version,
        "detector": detector,
        "home_networks": list(home_networks),
        "package_version": version("sec-ai-nids"),
    }


def build_signature(scorer: Scorer, input_example: pd.DataFrame) -> Any:
    """The signature, declared from the example's and the output's column types.

    Declared rather than inferred (``nids.model.mlflow_schema``): the schema's nullable
    columns are optional whatever the example holds, and the nullable integer column
    travels as a double, so no integer column can ever receive a missing value.
    """
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, DataType, ParamSchema, ParamSpec, Schema

    from nids.model.mlflow_schema import frame_schema

    output = scorer.predict_frame(input_example, explain="all")
    inputs = Schema(
        [
            ColSpec(
                DataType.double if spec.name in NULLABLE_INT_INPUT_COLUMNS else spec.type,
                spec.name,
                required=spec.name not in OPTIONAL_INPUT_COLUMNS,
            )
            for spec in frame_schema(input_example).inputs
        ]
    )
    params = ParamSchema([ParamSpec("explain", DataType.string, EXPLAIN_PARAM_DEFAULT)])
    return ModelSignature(inputs=inputs, outputs=frame_schema(output), params=params)


def _enforceable_example(example: pd.DataFrame) -> pd.DataFrame:
    """The example without optional columns holding nulls (UDP/ICMP flows have no TCP flags).

    MLflow validates the logged example against the signature and cannot convert a null
    to an integer; an optional column may be absent, so such columns are left out.
    """
    holed = [
        c
        for c in OPTIONAL_INPUT_COLUMNS
        if c not in NULLABLE_INT_INPUT_COLUMNS and c in example.columns and example[c].isna().any()
    ]
    return example.drop(columns=holed)


def log_nids_model(
    pipeline: Any,
    threshold: float,
    *,
    input_example: pd.DataFrame,
    reference_profile: dict[str, Any] | None,
    home_networks: Sequence[str],
    feature_set_version: str,
    detector: str,
    top_k: int = 3,
    name: str = MODEL_ARTIFACT_NAME,
) -> ModelInfo:
    """Log the fitted pipeline as a NIDS pyfunc in the active run; return its ModelInfo."""
    scorer = Scorer(pipeline, threshold, top_k=top_k)
    input_example = to_model_input(input_example)
    config = model_config(
        scorer,
        home_networks=home_networks,
        feature_set_version=feature_set_version,
        detector=detector,
    )
    with tempfile.TemporaryDirectory(prefix="nids-model-") as tmp:
        root = Path(tmp)
        save_pipeline(pipeline, root / PIPELINE_FILE)
        (root / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
        artifacts = {"pipeline": str(root / PIPELINE_FILE), "config": str(root / CONFIG_FILE)}
        if reference_profile is not None:
            (root / PROFILE_FILE).write_text(json.dumps(reference_profile), encoding="utf-8")
            artifacts["profile"] = str(root / PROFILE_FILE)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(Path(__file__).with_name("pyfunc_code.py")),
            artifacts=artifacts,
            signature=build_signature(scorer, input_example),
            input_example=_enforceable_example(input_example),
            pip_requirements=runtime_requirements(),
        )
