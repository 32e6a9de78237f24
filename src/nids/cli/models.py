"""`nids models`: the model registry (versions, verification, gated promotion, audit)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, cast

import typer
from rich.console import Console
from rich.table import Table

from nids.settings import Settings

if TYPE_CHECKING:
    from nids.registry.audit import AuditEvent
    from nids.registry.gate import GateResult
    from nids.registry.promotion import PromotionResult
    from nids.registry.state import Target
    from nids.registry.versions import VersionInfo

models_app = typer.Typer(
    help="Model registry: register, verify, promote, roll back.", no_args_is_help=True
)
_console = Console()

_NAME = typer.Option(None, "--name", help="Registered model name [default: NIDS_MODEL_NAME].")
_REASON = typer.Option(None, "--reason", help="Why (recorded in the audit history).")


@models_app.command("register")
def register_version(
    run_id: str = typer.Option(..., "--run-id", help="Training run whose model to register."),
    name: str | None = _NAME,
    artifact_path: str = typer.Option("model", "--artifact-path", help="Model name in the run."),
) -> None:
    """Register a run's model: SHA-256 manifest, semantic version, lineage tags."""
    from nids.registry.versions import register_model_version

    info = register_model_version(Settings(), run_id, name=name, artifact_path=artifact_path)
    verb = "registered" if info.created else "already registered as"
    _console.print(f"{verb} {info.name} version {info.version} (semver {info.semver})")
    _print_version(info)


@models_app.command("list")
def list_(name: str | None = _NAME) -> None:
    """List versions with semantic version, stage, aliases and gate metrics."""
    from nids.registry.promotion import list_versions

    table = Table("version", "semver", "stage", "aliases", "auc", "p@100", "run", "registered")
    for v in list_versions(Settings(), name):
        m = v.metrics
        table.add_row(
            str(v.version), v.semver or "-", v.current_stage, ",".join(v.aliases) or "-",
            _fmt(m.get("auc")), _fmt(m.get("precision_at_100")), (v.run_id or "-")[:12],
            v.tags.get("nids.registered_at", "-"),
        )  # fmt: skip
    _console.print(table)


@models_app.command("describe")
def describe(ref: str = typer.Argument(..., help="NAME, NAME/VERSION or VERSION.")) -> None:
    """Show one version (NAME alone: its production version) with every tag."""
    from nids.registry.promotion import describe as describe_version

    _print_version(describe_version(Settings(), ref))


@models_app.command("verify")
def verify(
    version: str = typer.Argument(..., help="VERSION, semver, alias or NAME/VERSION."),
) -> None:
    """Check every artefact file of a version against its SHA-256 manifest."""
    from nids.registry.loader import verify_ref

    info = verify_ref(Settings(), version)
    _console.print(f"[green]OK[/] {info.name} version {info.version}: artefacts match the manifest")


@models_app.command("promote")
def promote(
    version: str = typer.Argument(..., help="VERSION, semver or NAME/VERSION."),
    to: str = typer.Option(..., "--to", help="production or staging."),
    reason: str | None = _REASON,
    force: bool = typer.Option(False, "--force", help="Override a refusing gate (needs --reason)."),
    data: str | None = typer.Option(
        None, "--data", help="Gate data [default: the candidate's holdout]."
    ),
) -> None:
    """Move alias and stage to a version; production is gated against the incumbent."""
    from nids.registry.promotion import promote as promote_version

    target = cast("Target", to)  # validated by promote()
    _print_result(
        promote_version(Settings(), version, to=target, reason=reason, force=force, data=data)
    )


@models_app.command("rollback")
def rollback(name: str | None = _NAME, reason: str | None = _REASON) -> None:
    """Return production to the version it replaced (recorded)."""
    from nids.registry.promotion import rollback as rollback_production

    _print_result(rollback_production(Settings(), name, reason=reason))


@models_app.command("history")
def history(
    name: str | None = _NAME,
    limit: int = typer.Option(50, "--limit", help="Most recent records to show."),
) -> None:
    """Audit history: promotions, refusals, overrides and rollbacks, newest first."""
    from nids.registry.audit import history as audit_history

    settings = Settings()
    _print_history(audit_history(settings, name or settings.model_name, limit=limit))


@models_app.command("compare")
def compare(
    a: str = typer.Argument(..., help="First version (VERSION or NAME/VERSION)."),
    b: str = typer.Argument(..., help="Second version."),
    data: str = typer.Option(..., "--data", help="Flows to evaluate both on."),
) -> None:
    """Evaluate two versions on the same data, side by side."""
    from nids.registry.promotion import compare as compare_versions

    _print_gate(compare_versions(Settings(), a, b, data=data), ("A", "B"))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _print_version(info: VersionInfo) -> None:
    table = Table("field", "value", show_header=False)
    table.add_row("model", f"{info.name} version {info.version}")
    table.add_row("semver", info.semver or "-")
    table.add_row("stage / aliases", f"{info.current_stage} / {','.join(info.aliases) or '-'}")
    table.add_row("run", info.run_id or "-")
    for key, value in sorted(info.tags.items()):
        # The manifest is long: verify checks it; describe just counts the files.
        shown = f"{len(json.loads(value))} files" if key == "nids.manifest" else value
        table.add_row(key, shown)
    _console.print(table)


def _print_gate(result: GateResult, labels: tuple[str, str]) -> None:
    table = Table("metric", labels[0], labels[1], title=f"gate mode: {result.mode}")
    for key in sorted(set(result.candidate) | set(result.production)):
        table.add_row(key, _fmt(result.candidate.get(key)), _fmt(result.production.get(key)))
    _console.print(table)
    verdict = "[green]no worse[/]" if result.passed else "[red]worse: " + "; ".join(result.reasons)
    _console.print(f"{labels[0]} vs {labels[1]}: {verdict}")


def _print_result(result: PromotionResult) -> None:
    if result.gate is not None:
        _print_gate(result.gate, ("candidate", "production"))
    _console.print(
        f"{result.outcome}: {result.name} {result.target} "
        f"{result.from_version or '-'} -> {result.to_version}"
    )


def _print_history(events: list[AuditEvent]) -> None:
    table = Table(
        "when (UTC)", "action", "outcome", "target", "from", "to", "actor", "reason", "figures"
    )
    for e in events:
        figures = ", ".join(f"{k}={v:.4f}" for k, v in sorted(e.figures.items()))
        table.add_row(
            e.timestamp.strftime("%Y-%m-%d %H:%M:%S"), e.action, e.outcome, e.target,
            str(e.from_version or "-"), str(e.to_version or "-"), e.actor, e.reason, figures,
        )  # fmt: skip
    _console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
