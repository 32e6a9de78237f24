"""`nids retrain`: one run of the retraining pipeline, safe to schedule, trigger and kill.

Steps (each a child run of one MLflow parent run, timed):

1. resolve   the window (``--data`` glob or ``--since/--until`` over the dated root)
             into objects and a dataset digest; a digest already retrained to a
             decision is a no-op unless ``force``.
2. validate  stream every object (bounded sample for the fit), counts, label mix,
             quarantine report.
3. train     a challenger with ``nids.training.train`` (logs into its child run).
4. evaluate  challenger and production on the same latest held-out window plus
             feedback-confirmed flows.
5. register  the challenger (verified artefacts, semantic version).
6. promote   through the registry gate (which re-checks on the same frame), or keep
             the champion.
7. record    the decision with both sets of figures on the parent run.

Exit status: 0 promoted or nothing to do, 5 champion kept (``EXIT_REFUSED``), 6 another
retrain holds the lock, 4 a service failed, 2 bad data or configuration.
"""

from __future__ import annotations

import math
import os
import signal
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nids.errors import (
    EXIT_OK,
    EXIT_REFUSED,
    NidsError,
    PromotionRefusedError,
    ServiceUnavailableError,
)
from nids.pipelines import runs
from nids.pipelines.evaluation import Comparison
from nids.pipelines.window import DataWindow, resolve_window
from nids.settings import Settings

LOCK_NAME = "retrain"


@dataclass
class RetrainResult:
    """What one retrain decided, with the figures it decided on."""

    decision: str  # promoted, kept, noop
    digest: str
    run_id: str | None = None
    version: int | None = None
    semver: str | None = None
    champion_version: int | None = None
    comparison: Comparison | None = None
    window: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """Scheduler status: 0 promoted / nothing to do, 5 champion kept."""
        return EXIT_REFUSED if self.decision == "kept" else EXIT_OK

    def describe(self) -> str:
        """One line for logs and the monitoring hook."""
        if self.decision == "noop":
            return (
                f"dataset {self.digest} was already retrained "
                f"(run {self.run_id}, version {self.version})"
            )
        what = f"version {self.version} ({self.semver})"
        if self.decision == "promoted":
            return f"promoted {what} to production (run {self.run_id})"
        return f"kept champion version {self.champion_version}; {what} refused (run {self.run_id})"


def lock_url(settings: Settings) -> str:
    """Database holding the retrain lock (default: the feedback database)."""
    return settings.retrain_lock_db_url or settings.feedback_db_url


@contextmanager
def _sigterm_as_interrupt() -> Any:
    """A scheduler's SIGTERM unwinds like Ctrl-C: the run is marked FAILED, the lock freed."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _say(console: Any, text: str) -> None:
    if console is not None:
        console.print(text, highlight=False)


def _noop(done: Any, digest: str) -> RetrainResult:
    tags = runs.tags_of(done)
    version = tags.get(runs.TAG_VERSION)
    return RetrainResult(
        decision="noop",
        digest=digest,
        run_id=done.info.run_id,
        version=int(version) if version and version.isdigit() else None,
        semver=tags.get(runs.TAG_SEMVER),
        notes=[f"earlier decision: {tags.get(runs.TAG_DECISION)}"],
    )


def retrain(
    settings: Settings,
    *,
    data: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    root: str | None = None,
    force: bool = False,
    trigger: str = "manual",
    use_feedback: bool = True,
    console: Any = None,
) -> RetrainResult:
    """Run the pipeline once (see the module docstring); raises NidsError subclasses."""
    from nids.pipelines.lock import DatabaseLock
    from nids.registry.store import configure_mlflow, ensure_experiment
    from nids.registry.versions import actor
    from nids.training.trainer import FAIL_FAST_HTTP

    for key, value in FAIL_FAST_HTTP.items():
        os.environ.setdefault(key, value)
    with _sigterm_as_interrupt():
        experiment_id = ensure_experiment(settings)  # MLflow down: a clear error, nothing done
        client = configure_mlflow(settings)
        lock = DatabaseLock(
            lock_url(settings),
            f"{LOCK_NAME}:{settings.model_name}",
            ttl_s=settings.lock_ttl_s,
            holder=f"{actor(settings)} ({trigger} retrain)",
        )
        replaced = lock.acquire()
        try:
            if replaced is not None:
                _say(console, f"took over a stale lock of {replaced.describe()}")
            return _locked(
                settings, client, experiment_id,
                data=data, since=since, until=until, root=root, force=force,
                trigger=trigger, use_feedback=use_feedback, console=console,
            )  # fmt: skip
        finally:
            lock.release()


def _locked(
    settings: Settings,
    client: Any,
    experiment_id: str,
    *,
    data: str | None,
    since: datetime | None,
    until: datetime | None,
    root: str | None,
    force: bool,
    trigger: str,
    use_feedback: bool,
    console: Any,
) -> RetrainResult:
    from nids.pipelines.recovery import recover

    notes = recover(settings, client, experiment_id)
    for note in notes:
        _say(console, f"[yellow]recovery:[/] {note}")
    runs.pause_if_asked("resolve")
    started = time.perf_counter()
    window = resolve_window(
        data=data, since=since, until=until,
        root=root or settings.retrain_data_root, s3_endpoint_url=settings.s3_endpoint_url,
    )  # fmt: skip
    resolve_s = time.perf_counter() - started
    digest = window.digest
    _say(
        console,
        f"window: {len(window.objects)} objects, {window.total_bytes:,} bytes, digest {digest}",
    )
    if not force:
        done = runs.find_completed(client, experiment_id, digest)
        if done is not None:
            return _noop(done, digest)
    recorder = runs.RunRecorder(client, experiment_id)
    recorder.start(
        run_name=f"retrain-{datetime.now(UTC):%Y%m%dT%H%M%S}",
        tags={
            runs.TAG_DIGEST: digest,
            runs.TAG_TRIGGER: trigger,
            "nids.retrain.source": window.source[:4000],
            "nids.retrain.forced": str(force).lower(),
        },
    )
    recorder.timings["resolve"] = resolve_s
    client.log_metric(recorder.parent_id, "step_resolve_seconds", resolve_s)
    client.log_dict(recorder.parent_id, window.lineage(), "dataset.json")
    try:
        result = _steps(settings, recorder, window, use_feedback=use_feedback, console=console)
    except BaseException as exc:
        recorder.fail(f"{type(exc).__name__}: {exc}")
        if isinstance(exc, NidsError):
            raise
        from mlflow.exceptions import MlflowException
        from requests.exceptions import RequestException

        if isinstance(exc, MlflowException | RequestException):  # the store failed mid-run
            raise ServiceUnavailableError(
                f"MLflow tracking store {settings.mlflow_tracking_uri} failed during the retrain: "
                f"{exc}"
            ) from exc
        raise
    result.notes = notes + result.notes
    return result


def _steps(
    settings: Settings,
    recorder: runs.RunRecorder,
    window: DataWindow,
    *,
    use_feedback: bool,
    console: Any,
) -> RetrainResult:
    from nids.pipelines.evaluation import compare_models, evaluation_frame
    from nids.pipelines.validate import check_window, load_window
    from nids.registry import load_model, register_model_version
    from nids.training import train

    client = recorder.client
    with recorder.step("validate") as child:
        loaded = _with_progress(console, lambda bar: load_window(settings, window, progress=bar))
        summary = loaded.summary()
        client.log_dict(child, summary, "window.json")
        _say(
            console,
            f"validated {summary['rows']:,} flows (sample {summary['sample_rows']:,}), "
            f"labels {summary['labels']}, refused objects {len(loaded.refused_objects)}, "
            f"quarantined rows {summary['rows_quarantined']:,}",
        )
        check_window(settings, loaded, source=window.source)
    with recorder.step("train", resume_in_training=True):
        trained = train(settings, window.source, frame=loaded.frame, console=console)
        client.set_tag(recorder.parent_id, runs.TAG_TRAIN_RUN, trained.run_id)
    with tempfile.TemporaryDirectory(prefix="nids-retrain-") as tmp:
        eval_path = Path(tmp) / "evaluation.parquet"
        with recorder.step("evaluate") as child:
            frame, n_feedback = evaluation_frame(settings, loaded.frame, use_feedback=use_feedback)
            challenger = load_model(f"runs:/{trained.run_id}/model", settings).nids_model.scorer
            comparison = compare_models(settings, challenger, frame, feedback_rows=n_feedback)
            _log_comparison(client, child, comparison)
            _say(console, _comparison_line(comparison))
            frame.to_parquet(eval_path, index=False)
        with recorder.step("register") as child:
            version = register_model_version(settings, trained.run_id, name=settings.model_name)
            client.set_tag(recorder.parent_id, runs.TAG_VERSION, str(version.version))
            client.set_tag(child, runs.TAG_VERSION, str(version.version))
        with recorder.step("promote") as child:
            decision = _promote(settings, version, eval_path, recorder.parent_id, comparison)
            client.set_tag(child, runs.TAG_DECISION, decision)
    result = RetrainResult(
        decision=decision,
        digest=window.digest,
        run_id=recorder.parent_id,
        version=version.version,
        semver=version.semver,
        champion_version=comparison.champion_version,
        comparison=comparison,
        window=summary,
    )
    with recorder.step("record"):
        tags = {
            runs.TAG_DECISION: decision,
            runs.TAG_SEMVER: version.semver or "",
            runs.TAG_CHAMPION: str(comparison.champion_version or ""),
            "nids.retrain.gate_reasons": "; ".join(comparison.reasons)[:4000],
        }
        client.log_dict(recorder.parent_id, _decision_doc(result), "decision.json")
    result.timings = dict(recorder.timings)
    recorder.finish("FINISHED", tags, _figures(comparison))
    return result


def _promote(
    settings: Settings, version: Any, eval_path: Path, parent_id: str, comparison: Comparison
) -> str:
    """Promote through the registry gate (re-evaluated on the same frame): the decision."""
    from nids.registry import promote

    try:
        promote(
            settings, f"{version.name}/{version.version}", to="production",
            reason=f"retrain run {parent_id}", data=str(eval_path),
        )  # fmt: skip
    except PromotionRefusedError as exc:
        comparison.reasons = comparison.reasons or [exc.message]
        return "kept"
    return "promoted"


def _with_progress(console: Any, work: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=console is None, transient=True,
    ) as bar:  # fmt: skip
        return work(bar)


def _figures(c: Comparison) -> dict[str, float]:
    out = {f"challenger.{k}": v for k, v in c.candidate.items()}
    out.update({f"production.{k}": v for k, v in c.production.items()})
    out["eval_rows"] = float(c.eval_rows)
    out["feedback_rows"] = float(c.feedback_rows)
    return out


def _log_comparison(client: Any, run_id: str, c: Comparison) -> None:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    figures = _figures(c)
    metrics = [Metric(k, v, now, 0) for k, v in figures.items() if math.isfinite(v)]
    client.log_batch(run_id, metrics=metrics)
    client.set_tag(run_id, "nids.gate_mode", c.mode)
    client.set_tag(run_id, "nids.gate_passed", str(c.passed).lower())


def _comparison_line(c: Comparison) -> str:
    keys = ("auc", "precision_at_100", "alert_rate")
    cand = ", ".join(f"{k} {c.candidate[k]:.4f}" for k in keys if k in c.candidate)
    if c.champion_version is None:
        return f"challenger: {cand}; no production model yet"
    prod = ", ".join(f"{k} {c.production[k]:.4f}" for k in keys if k in c.production)
    verdict = "passes" if c.passed else "fails: " + "; ".join(c.reasons)
    return f"challenger: {cand} | production v{c.champion_version}: {prod} | gate {verdict}"


def _decision_doc(r: RetrainResult) -> dict[str, Any]:
    c = r.comparison
    return {
        "decision": r.decision,
        "dataset_digest": r.digest,
        "version": r.version,
        "semver": r.semver,
        "champion_version": r.champion_version,
        "gate": {
            "mode": c.mode if c else None,
            "passed": c.passed if c else None,
            "reasons": c.reasons if c else [],
            "challenger": c.candidate if c else {},
            "production": c.production if c else {},
            "eval_rows": c.eval_rows if c else 0,
            "feedback_rows": c.feedback_rows if c else 0,
        },
        "window": r.window,
    }


def retrain_from_cli(
    settings: Settings,
    *,
    data: str | None,
    since: str | None,
    until: str | None,
    root: str | None,
    force: bool,
    use_feedback: bool,
    console: Any,
) -> RetrainResult:
    """:func:`retrain` with ``--since/--until`` given as ISO text."""
    from nids.pipelines.window import parse_when

    return retrain(
        settings,
        data=data,
        since=parse_when(since) if since else None,
        until=parse_when(until) if until else None,
        root=root,
        force=force,
        use_feedback=use_feedback,
        console=console,
    )


def print_result(result: RetrainResult, console: Any) -> None:
    """The decision, both models' figures and the step timings."""
    from rich.table import Table

    colour = {"promoted": "green", "kept": "yellow"}.get(result.decision, "cyan")
    console.print(f"[bold {colour}]{result.decision}[/]: {result.describe()}", highlight=False)
    c = result.comparison
    if c is not None:
        table = Table("metric", "challenger", f"production v{c.champion_version or '-'}")
        for key in ("auc", "pr_auc", "precision_at_100", "recall", "false_positive_rate",
                    "alert_rate"):  # fmt: skip
            if key in c.candidate:
                prod = c.production.get(key)
                table.add_row(
                    key, f"{c.candidate[key]:.4f}", "-" if prod is None else f"{prod:.4f}"
                )
        console.print(table)
        for reason in c.reasons:
            console.print(f"gate: {reason}", highlight=False)
    if result.timings:
        console.print(
            "steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()),
            highlight=False,
        )
    for note in result.notes:
        console.print(note, highlight=False)
