"""The registry against a real `mlflow server` (SQLite and PostgreSQL backends).

Two real models are trained once per backend on small generated traffic: a sound
Isolation Forest and a deliberately weak one (one tree on two samples, near-random
ranking), both registered through `nids.training.train(register=True)`.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest

from nids.errors import ConfigError, ModelIntegrityError, PromotionRefusedError
from nids.registry.store import configure_mlflow
from nids.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass(frozen=True)
class Trained:
    """The server, the data and the two registered versions of one backend."""

    server: object
    settings: Settings
    data: Path
    good: object  # nids.training.TrainResult
    weak: object


# Trained once per backend (the server fixture is shared by the whole session).
_TRAINED: dict[str, Trained] = {}


@pytest.fixture
def trained(mlflow_server, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    from nids.data.generator import generate_flows
    from nids.training import train

    backend = mlflow_server.backend
    if backend in _TRAINED and _TRAINED[backend].server is mlflow_server:
        return _TRAINED[backend]
    root = tmp_path_factory.mktemp(f"registry-{backend}")
    data = root / "flows.parquet"
    generate_flows(3000, days=2, attack_share=0.05, seed=11).to_parquet(data)
    settings = Settings(
        mlflow_tracking_uri=mlflow_server.url,
        model_name=f"nids-reg-{backend}",
        experiment_name=f"registry-tests-{backend}",
    )
    good = train(
        settings, str(data), register=True, progress=False, n_estimators=30, max_samples=128
    )
    weak = train(settings, str(data), register=True, progress=False, n_estimators=1, max_samples=2)
    _TRAINED[backend] = Trained(mlflow_server, settings, data, good, weak)
    return _TRAINED[backend]


@pytest.fixture
def env(trained: Trained, monkeypatch: pytest.MonkeyPatch) -> Trained:
    """Point the environment (CLI, spec snippet) at the backend's server."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained.settings.mlflow_tracking_uri)
    monkeypatch.setenv("NIDS_MODEL_NAME", trained.settings.model_name)
    monkeypatch.setenv("NIDS_EXPERIMENT_NAME", trained.settings.experiment_name)
    monkeypatch.setenv("NIDS_ACTOR", "alice")
    settings = Settings()
    # MLflow's process-global URI wins over the environment: point it at this backend.
    configure_mlflow(settings)
    return replace(trained, settings=settings)


def to_model_input(df: pd.DataFrame) -> pd.DataFrame:
    """The pyfunc's input form of canonical flows (imported lazily: it imports MLflow)."""
    from nids.model.pyfunc import to_model_input as convert

    return convert(df)


def _cli(*args: str) -> int:
    from nids.cli import main

    return main(["models", *args])


def _state(settings: Settings) -> tuple[dict[str, int | None], tuple[int, ...]]:
    from nids.registry.state import read_state
    from nids.registry.store import configure_mlflow

    state = read_state(configure_mlflow(settings), settings.model_name, "production")
    return state.aliases, state.staged


def test_register_promote_and_load_by_stage_and_alias(env: Trained) -> None:
    from nids.registry import history, load_model, register_model_version

    s, good, weak = env.settings, env.good.registered, env.weak.registered
    assert (good.semver, weak.semver) == ("1.0.0", "1.1.0")  # retrain: minor
    assert weak.tags["nids.semver_bump"] == "minor"
    assert good.tags["nids.dataset_source"] == str(env.data)
    assert len(good.tags["nids.dataset_digest"]) == 16
    assert good.metrics["auc"] == pytest.approx(env.good.metrics["auc"], abs=1e-6)
    again = register_model_version(s, env.good.run_id)
    assert (again.version, again.created) == (good.version, False)

    # First production version: no incumbent; the gate data is the run's recorded holdout.
    assert _cli("promote", str(good.version), "--to", "production", "--reason", "first") == 0
    first = history(s, s.model_name)[0]
    assert (first.outcome, first.from_version, first.to_version) == ("promoted", None, good.version)
    assert first.figures["candidate.eval_rows"] == 900  # the 30 % holdout of 3000 flows
    assert _state(s) == ({"production": good.version, "champion": good.version}, (good.version,))
    flows = pd.read_parquet(env.data).head(200)
    name = s.model_name
    loaded = [
        load_model(uri, s)
        for uri in (
            f"models:/{name}/Production",
            f"models:/{name}@production",
            f"models:/{name}@champion",
        )
    ]
    assert {m.version for m in loaded} == {good.version}
    # What training returns (models:/<model_id>) and runs:/ resolve to the verified version.
    for uri in (env.good.model_uri, f"runs:/{env.good.run_id}/model"):
        by_id = load_model(uri, s)
        assert (by_id.version, by_id.verified) == (good.version, True)
    assert loaded[0].semver == "1.0.0"
    frames = [m.nids_model.scorer.predict_frame(flows, explain="all") for m in loaded]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    pd.testing.assert_frame_equal(frames[0], frames[2])
    # Through MLflow's pyfunc interface too (flows with all optional fields: MLflow's
    # schema enforcement cannot take a null in an integer column).
    tcp = to_model_input(flows.dropna(subset=["tcp_flags"]).head(50))
    served = [m.pyfunc.predict(tcp) for m in loaded]
    pd.testing.assert_frame_equal(served[0], served[1])
    pd.testing.assert_frame_equal(served[0], served[2])
    assert served[0]["score"].to_numpy() == pytest.approx(loaded[0].nids_model.scorer.score(tcp))


def test_weaker_candidate_is_refused_forced_and_rolled_back(env: Trained) -> None:
    from nids.registry import history, promote, rollback

    s, good, weak = env.settings, env.good.registered, env.weak.registered
    promote(s, str(good.version), to="production", reason="baseline")  # no-op if already
    # The generated holdout (last 30 %) holds no attack: gate on the whole labelled file.
    with pytest.raises(PromotionRefusedError, match="refused for production: auc"):
        promote(s, str(weak.version), to="production", reason="try", data=str(env.data))
    refused = history(s, s.model_name)[0]
    assert (refused.outcome, refused.from_version, refused.to_version) == (
        "refused", good.version, weak.version,
    )  # fmt: skip
    assert refused.actor == "alice"
    assert refused.figures["candidate.auc"] < refused.figures["production.auc"] - 0.01
    assert _state(s)[0]["production"] == good.version
    assert _cli("compare", str(weak.version), str(good.version), "--data", str(env.data)) == 0

    with pytest.raises(ConfigError, match="--force needs --reason"):
        promote(s, str(weak.version), to="production", force=True)
    code = _cli(
        "promote", str(weak.version), "--to", "production", "--force",
        "--reason", "incident 42: emergency", "--data", str(env.data),
    )  # fmt: skip
    assert code == 0
    forced = history(s, s.model_name)[0]
    assert (forced.outcome, forced.reason) == ("forced", "incident 42: emergency")
    assert "candidate.precision_at_100" in forced.figures
    assert _state(s) == ({"production": weak.version, "champion": weak.version}, (weak.version,))

    result = rollback(s, reason="forced model misbehaves")
    assert (result.from_version, result.to_version) == (weak.version, good.version)
    assert _state(s) == ({"production": good.version, "champion": good.version}, (good.version,))
    assert history(s, s.model_name)[0].outcome == "rolled_back"
    assert _cli("history") == 0


def _stored_model_dir(env: Trained, version: int) -> Path:
    """The server-side directory holding a version's artefacts."""
    from nids.registry.store import configure_mlflow

    source = (
        configure_mlflow(env.settings)
        .get_model_version(env.settings.model_name, str(version))
        .source
    )
    model_id = source.rsplit("/", 1)[-1]
    found = [p for p in env.server.artifacts_dir.rglob(model_id) if p.is_dir()]
    assert len(found) == 1, found
    mlmodel = next(found[0].rglob("MLmodel"))
    return mlmodel.parent


def test_tampered_or_partial_artefacts_fail_verify_and_load(env: Trained) -> None:
    from nids.registry import load_model, verify_version

    s, version = env.settings, env.weak.registered.version
    config = next(_stored_model_dir(env, version).rglob("model_config.json"))
    original = config.read_bytes()
    try:
        config.write_bytes(original.replace(b'"threshold"', b'"threshold" ', 1))
        assert _cli("verify", str(version)) == 2
        with pytest.raises(ModelIntegrityError, match=r"modified file .*model_config\.json"):
            load_model(f"models:/{s.model_name}/{version}", s)
        config.unlink()
        with pytest.raises(ModelIntegrityError, match=r"missing file .*model_config\.json"):
            verify_version(s, s.model_name, str(version))
    finally:
        config.write_bytes(original)
    assert verify_version(s, s.model_name, str(version)).version == version


def test_concurrent_promotions_end_consistent(env: Trained) -> None:
    from nids.errors import ConcurrentUpdateError
    from nids.registry import promote, register_model_version

    # A fresh model with no production version: both racers replace the same state.
    s = env.settings.with_overrides(model_name=f"{env.settings.model_name}-race")
    weak = register_model_version(s, env.weak.run_id)
    good = register_model_version(s, env.good.run_id)
    small = env.data.with_name("race.parquet")  # the gate still runs: keep it cheap
    pd.read_parquet(env.data).head(300).to_parquet(small)

    def race(version: int) -> str:
        # Two operators override the gate at once: the gate is not the point here.
        try:
            return promote(
                s, str(version), to="production", force=True, reason=f"race {version}",
                data=str(small),
            ).outcome  # fmt: skip
        except ConcurrentUpdateError:
            return "conflict"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(race, (weak.version, good.version)))
    assert set(outcomes) <= {"promoted", "conflict"}, outcomes
    assert "promoted" in outcomes
    aliases, staged = _state(s)
    assert aliases["production"] == aliases["champion"]
    assert staged == (aliases["production"],)
    # The version in production is one whose promotion reported success.
    winners = {
        v for v, o in zip((weak.version, good.version), outcomes, strict=True) if o != "conflict"
    }
    assert aliases["production"] in winners


def test_spec_snippet_verbatim_then_our_loader_serves_it(env: Trained) -> None:
    from nids.registry import load_model

    RUN_ID = env.good.run_id
    with warnings.catch_warnings():
        # transition_model_version_stage is deprecated (FutureWarning, once per process).
        warnings.simplefilter("ignore", FutureWarning)
        # --- the specification's snippet (docs section "3. Model Registry"), verbatim ---
        import mlflow

        client = mlflow.tracking.MlflowClient()

        # Register model
        model_uri = f"runs:/{RUN_ID}/model"
        result = mlflow.register_model(model_uri, "nids-isoforest")

        # Promote to production
        client.transition_model_version_stage(name="nids-isoforest", version=1, stage="Production")
        # --- end of snippet ---
    assert int(result.version) == 1
    loaded = load_model("models:/nids-isoforest/Production", env.settings)
    assert (loaded.name, loaded.version, loaded.semver) == ("nids-isoforest", 1, "1.0.0")
    assert loaded.tags["nids.adopted"] == "true"
    flows = pd.read_parquet(env.data).head(100)
    ours = load_model(
        f"models:/{env.settings.model_name}/{env.good.registered.version}", env.settings
    )
    pd.testing.assert_frame_equal(
        loaded.nids_model.scorer.predict_frame(flows), ours.nids_model.scorer.predict_frame(flows)
    )
