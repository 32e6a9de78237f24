"""The FastAPI app of ``nids-inference``: scoring, health, model info, metrics.

``create_app(settings)`` builds an app whose lifespan loads and verifies the model
(through ``nids.registry.load_model`` unless a loader is injected), starts the alert
sink, the prediction log and the hot-reload poller, and drains them on shutdown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from nids.errors import NidsError, SchemaError
from nids.serving import schemas
from nids.serving.alerts import AllowList
from nids.serving.endpoint import ApiError, ScoreEndpoint, error_answer, token_check
from nids.serving.holder import ModelHolder, ModelLoader, VersionProbe, registry_version_probe
from nids.serving.metrics import ServiceMetrics
from nids.serving.scoring import ScoringContext
from nids.settings import Settings

log = logging.getLogger("nids.serving")
ENDPOINTS = ("/v1/score", "/v1/model", "/healthz", "/readyz", "/metrics", "/v1/feedback")


def _default_loader(uri: str, settings: Settings) -> Any:
    from nids.registry import load_model

    return load_model(uri, settings)


def create_app(
    settings: Settings | None = None,
    *,
    model_loader: ModelLoader | None = None,
    version_probe: VersionProbe | None = None,
    feedback: bool = True,
) -> FastAPI:
    """Build the service app; nothing is loaded until the app starts (lifespan)."""
    settings = settings or Settings()
    experiment = _load_experiment(settings)
    if experiment is not None:  # in an A/B experiment the service's own model is the control
        settings = settings.model_copy(update={"model_uri": experiment.control.model_uri})
    metrics = ServiceMetrics.create()
    holder = ModelHolder(
        settings,
        metrics,
        loader=model_loader or _default_loader,
        probe=version_probe or registry_version_probe,
    )
    ctx = ScoringContext(
        metrics=metrics, allowlist=AllowList(), dispatcher=None, alert_format=settings.alert_format
    )
    feedback_store: list[Any] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _start(settings, holder, ctx, metrics)
        if experiment is not None:
            app.state.ab_router = _start_experiment(
                experiment, settings, holder, ctx, metrics, model_loader, version_probe
            )
        try:
            yield
        finally:
            if app.state.ab_router is not None:
                app.state.ab_router.stop()
            _stop(holder, ctx, feedback_store)

    app = FastAPI(
        title="nids-inference",
        version=_package_version(),
        summary="Scores network flows, explains alerts, exposes Prometheus metrics.",
        lifespan=lifespan,
    )
    app.state.settings, app.state.holder, app.state.ctx = settings, holder, ctx
    app.state.metrics = metrics
    app.state.ab_router = None  # nids.abtest.router.ExperimentRouter when ab_config is set
    check_token = token_check(settings.api_token.get_secret_value() if settings.api_token else None)
    auth = _auth_dependency(check_token)
    open_auth = [] if settings.open_health_endpoints else [Depends(auth)]
    _install_error_handlers(app)

    endpoint = ScoreEndpoint(
        app=app,
        holder=holder,
        ctx=ctx,
        check_token=check_token,
        max_body_bytes=settings.max_body_bytes,
        max_flows=settings.max_flows_per_request,
    )

    @app.post(
        "/v1/score",
        response_model=schemas.ScoreResponse,
        responses=schemas.error_responses(401, 413, 415, 422, 503),
        openapi_extra=schemas.score_request_openapi(),
    )
    async def score(request: Request) -> Response:
        """Score a batch of flows (JSON, NDJSON, Arrow IPC or parquet body).

        ``POST /v1/score`` is answered by :class:`~nids.serving.endpoint.ScoreEndpoint`
        before FastAPI routing (see there); this route documents it and answers the
        same way if reached.
        """

        async def read(limit: int) -> bytes:
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"body exceeds the {limit}-byte limit")
                chunks.append(chunk)
            return b"".join(chunks)

        status, body, extra = await endpoint.answer(
            dict(request.headers.raw), request.scope.get("query_string", b""), read
        )
        headers = {k.decode(): v.decode() for k, v in extra}
        return Response(body, status_code=status, media_type="application/json", headers=headers)

    @app.get(
        "/v1/model",
        response_model=schemas.ModelOut,
        responses=schemas.error_responses(401, 503),
        dependencies=[Depends(auth)],
    )
    def model_info() -> Any:
        """The model in service: name, version, semver, when loaded, tags and metrics."""
        served = holder.current
        if served is None:
            raise ApiError(503, "no verified model loaded yet")
        loaded = served.loaded
        return schemas.ModelOut(
            name=served.ref.name,
            version=served.ref.version,
            semver=served.ref.semver,
            uri=str(loaded.uri),
            verified=bool(loaded.verified),
            loaded_at=served.loaded_at.isoformat(),
            threshold=served.scorer.threshold,
            feature_names=list(served.scorer.feature_names),
            tags={str(k): str(v) for k, v in (loaded.tags or {}).items()},
            metrics={str(k): float(v) for k, v in (loaded.metrics or {}).items()},
        )

    @app.get(
        "/healthz",
        response_model=schemas.Status,
        responses=schemas.error_responses(401),
        dependencies=open_auth,
    )
    def healthz() -> Any:
        """The process is alive."""
        return schemas.Status(status="ok")

    @app.get(
        "/readyz",
        response_model=schemas.Status,
        responses={**schemas.error_responses(401), 503: {"model": schemas.Status}},
        dependencies=open_auth,
    )
    def readyz() -> Any:
        """Ready when a verified model is loaded."""
        served = holder.current
        if served is None:
            return JSONResponse(
                {"status": "not ready", "model_version": None, "detail": holder.last_error},
                status_code=503,
            )
        return schemas.Status(status="ready", model_version=served.ref.version)

    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            **schemas.error_responses(401),
        },
        dependencies=open_auth,
    )
    def prometheus_metrics() -> Response:
        """Prometheus exposition of the service metrics."""
        if ctx.prediction_log is not None:
            for kind, value in ctx.prediction_log.stats.items():
                metrics.prediction_log_rows.labels(kind).set(value)
        data, content_type = metrics.render()
        return Response(data, media_type=content_type)

    if feedback:
        _include_feedback(app, settings, metrics, auth, feedback_store)
    if experiment is not None:
        from nids.abtest.routes import experiment_router

        app.include_router(experiment_router(app), dependencies=[Depends(auth)])
    app.openapi = _openapi_with_request_models(app)  # type: ignore[method-assign]
    app.add_middleware(_ObserveRequests, metrics=metrics, holder=holder, score=endpoint)
    return app


def _start(
    settings: Settings, holder: ModelHolder, ctx: ScoringContext, metrics: ServiceMetrics
) -> None:
    from nids.serving.sinks import AlertDispatcher, build_sink

    if settings.allowlist_path is not None:
        ctx.allowlist = AllowList.load(settings.allowlist_path)
    sink = build_sink(settings)
    if sink is not None:
        ctx.dispatcher = AlertDispatcher(
            sink,
            queue_size=settings.alert_queue_size,
            on_sent=metrics.alerts_sent.inc,
            on_dropped=metrics.alerts_dropped.inc,
        )
    if settings.prediction_log_dir:
        from nids.monitoring.prediction_log import PredictionLogWriter

        ctx.prediction_log = PredictionLogWriter(
            settings.prediction_log_dir,
            sample_rate=settings.prediction_log_sample_rate,
            max_bytes=settings.prediction_log_max_bytes,
            seed=settings.seed,
        )
    holder.load("initial")
    holder.start_polling()


def _load_experiment(settings: Settings) -> Any:
    if settings.ab_config is None:
        return None
    from nids.abtest.config import load_experiment

    return load_experiment(settings.ab_config)


def _start_experiment(
    experiment: Any,
    settings: Settings,
    holder: ModelHolder,
    ctx: ScoringContext,
    metrics: ServiceMetrics,
    loader: ModelLoader | None,
    probe: VersionProbe | None,
) -> Any:
    from nids.abtest.router import build_router

    router = build_router(
        experiment,
        settings,
        holder,
        metrics=metrics,
        loader=loader or _default_loader,
        probe=probe or registry_version_probe,
    )
    router.start()
    return router


def _stop(holder: ModelHolder, ctx: ScoringContext, feedback_store: list[Any]) -> None:
    holder.stop()
    if ctx.dispatcher is not None:
        ctx.dispatcher.close()
    if ctx.prediction_log is not None:
        ctx.prediction_log.close()
    for store in feedback_store:
        store.close()


def _include_feedback(
    app: FastAPI, settings: Settings, metrics: ServiceMetrics, auth: Any, stores: list[Any]
) -> None:
    from nids.monitoring.feedback import FeedbackStore
    from nids.serving.routes_feedback import feedback_router

    store = FeedbackStore(settings.feedback_db_url)
    stores.append(store)
    app.include_router(
        feedback_router(store, registry=metrics.registry), dependencies=[Depends(auth)]
    )


def _auth_dependency(check_token: Callable[[bytes], None]) -> Callable[[Request], Any]:
    """The token check as a FastAPI dependency (async: no threadpool hop)."""

    async def check(request: Request) -> None:
        check_token(request.headers.get("authorization", "").encode())

    return check


def _install_error_handlers(app: FastAPI) -> None:
    def answer(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> Response:
        code, body, extra = error_answer(status, detail, errors)
        headers = {k.decode(): v.decode() for k, v in extra}
        return Response(body, status_code=code, media_type="application/json", headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return answer(exc.status, exc.detail, exc.errors)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"row": None, "field": ".".join(str(p) for p in e.get("loc", ()))} for e in exc.errors()
        ]
        return answer(422, "invalid request parameters", errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return answer(exc.status_code, str(exc.detail))

    @app.exception_handler(NidsError)
    async def nids_error(request: Request, exc: NidsError) -> Response:
        return answer(422 if isinstance(exc, SchemaError) else 503, exc.message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Never a traceback or an internal path in an answer; the log has the details.
        log.exception("unhandled error on %s", request.url.path)
        return answer(500, "internal error")


class _ObserveRequests:
    """Pure ASGI middleware: latency by endpoint/model version and count by status.

    It also hands ``POST /v1/score`` to ``score`` directly (the hot path skips
    FastAPI's routing and per-request machinery; see :mod:`nids.serving.endpoint`).
    """

    def __init__(
        self, app: Any, metrics: ServiceMetrics, holder: ModelHolder, score: ScoreEndpoint
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.holder = holder
        self.score = score

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_note(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        path = scope.get("path", "")
        handler = self.score if path == "/v1/score" and scope["method"] == "POST" else self.app
        try:
            await handler(scope, receive, send_and_note)
        finally:
            path = scope.get("path", "")
            endpoint = next((e for e in ENDPOINTS if path.startswith(e)), "other")
            served = self.holder.current
            version = served.ref.version if served is not None else "none"
            elapsed = time.perf_counter() - start
            self.metrics.request_latency.labels(endpoint, version).observe(elapsed)
            self.metrics.requests.labels(endpoint, str(status)).inc()


def _openapi_with_request_models(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """OpenAPI generation that also publishes the request models used in openapi_extra."""
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = base()
        extra = schemas.ScoreRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        components = spec.setdefault("components", {}).setdefault("schemas", {})
        components.update(extra.pop("$defs", {}))
        components["ScoreRequest"] = extra
        app.openapi_schema = spec
        return spec

    return openapi


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sec-ai-nids")
    except PackageNotFoundError:
        return "0"
