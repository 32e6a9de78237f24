"""Run the service under uvicorn (what ``nids serve`` calls)."""

from __future__ import annotations

import os

from nids.settings import Settings

#: Seconds uvicorn waits for in-flight requests on SIGTERM before closing them.
GRACEFUL_SHUTDOWN_S = 20


def app_from_environment() -> object:
    """uvicorn factory for worker processes: settings from the environment."""
    from nids.serving.app import create_app

    return create_app(Settings())


def serve(settings: Settings) -> None:
    """Serve until interrupted; SIGTERM drains in-flight requests first."""
    import uvicorn

    common = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "access_log": False,  # the metrics count requests; per-request lines cost latency
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "lifespan": "on",
    }
    if settings.workers == 1:
        from nids.serving.app import create_app

        uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]
        return
    # Worker processes build their own app from the environment: pass flags on there.
    for name in ("host", "port", "model_uri", "reload_interval_s", "workers"):
        os.environ[f"NIDS_{name.upper()}"] = str(getattr(settings, name))
    uvicorn.run(
        "nids.serving.server:app_from_environment",
        factory=True,
        workers=settings.workers,
        **common,  # type: ignore[arg-type]
    )
