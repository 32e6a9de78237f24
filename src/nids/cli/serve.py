"""`nids serve`: the inference service (FastAPI under uvicorn); `nids replay`: drive it."""

from __future__ import annotations

import typer

from nids.settings import Settings


def serve(
    host: str | None = typer.Option(None, help="Bind address [NIDS_HOST]."),
    port: int | None = typer.Option(None, help="Port [NIDS_PORT]."),
    model_uri: str | None = typer.Option(
        None, "--model-uri", help="Model to serve, e.g. models:/nids-isoforest@production."
    ),
    workers: int | None = typer.Option(None, min=1, help="uvicorn worker processes."),
    reload_interval: float | None = typer.Option(
        None, "--reload-interval", min=0, help="Registry poll interval in s (0: no hot reload)."
    ),
) -> None:
    """Serve the model: POST /v1/score, /healthz, /readyz, /v1/model, /metrics, /docs."""
    from nids.serving.server import serve as run_server

    settings = Settings().with_overrides(
        host=host,
        port=port,
        model_uri=model_uri,
        workers=workers,
        reload_interval_s=reload_interval,
    )
    run_server(settings)


def replay(
    data: str = typer.Argument(..., help="Flows to send (any format `nids` reads)."),
    url: str = typer.Option("http://127.0.0.1:8080", help="Base URL of a running service."),
    batch_size: int = typer.Option(1000, min=1, help="Flows per request."),
    limit: int | None = typer.Option(None, min=1, help="Send only the first N flows."),
) -> None:
    """Send flows to a running service and summarise its alerts and metrics."""
    from nids.serving.replay import print_summary
    from nids.serving.replay import replay as run_replay

    summary = run_replay(Settings(), url, data, batch_size=batch_size, limit=limit)
    print_summary(summary)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("replay")(replay)
