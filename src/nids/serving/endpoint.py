"""``POST /v1/score`` as a plain ASGI handler: the service's hot path.

FastAPI's routing, dependency injection and exception middleware cost more CPU per
request than scoring one flow (measured ~0.07 ms of ~0.12 ms framework time per
request). The observing middleware (:mod:`nids.serving.app`) hands ``POST /v1/score``
straight to :class:`ScoreEndpoint`; the FastAPI route of the same path stays for the
OpenAPI document and answers through the same :meth:`ScoreEndpoint.answer`. Auth,
limits, validation and error bodies are the same as everywhere else in the service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any
from urllib.parse import parse_qs

import orjson

from nids.errors import NidsError, SchemaError
from nids.serving.parsing import TooManyFlowsError, UnsupportedMediaTypeError, parse_flows
from nids.serving.scoring import ScoringContext, score_request

log = logging.getLogger("nids.serving")

EXPLAIN_CHOICES = ("alerts", "all", "none")
#: Batches up to this many flows are scored inline on the event loop (a threadpool hop
#: costs more than scoring them); larger ones in a worker thread, so the loop keeps
#: accepting requests meanwhile.
INLINE_MAX_FLOWS = 256

Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]
ReadBody = Callable[[int], Awaitable[bytes]]


class ApiError(Exception):
    """An HTTP error answered as ``{"detail": ..., "errors": [...]}``."""

    def __init__(
        self, status: int, detail: str, *, row: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = [{"row": row, "field": field}] if (row or field) else []


def error_answer(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> Answer:
    """Status, JSON body and headers of an error (401s name the auth scheme)."""
    headers = [(b"www-authenticate", b"Bearer")] if status == 401 else []
    return status, orjson.dumps({"detail": detail, "errors": errors or []}), headers


def token_check(token: str | None) -> Callable[[bytes], None]:
    """Raises a 401 :class:`ApiError` unless the Authorization value is the bearer token."""
    import secrets

    expected = f"Bearer {token}".encode() if token else None

    def check(given: bytes) -> None:
        if expected is not None and not secrets.compare_digest(given, expected):
            raise ApiError(401, "missing or invalid bearer token")

    return check


class ScoreEndpoint:
    """Scores a request body with the served model (or the A/B router)."""

    def __init__(
        self,
        *,
        app: Any,
        holder: Any,
        ctx: ScoringContext,
        check_token: Callable[[bytes], None],
        max_body_bytes: int,
        max_flows: int,
    ) -> None:
        self.app = app  # app.state.ab_router is set once the lifespan starts
        self.holder = holder
        self.ctx = ctx
        self.check_token = check_token
        self.max_body_bytes = max_body_bytes
        self.max_flows = max_flows
        self._coalescer = Coalescer(ctx)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The raw ASGI route."""
        headers = dict(scope["headers"])

        async def read(limit: int) -> bytes:
            chunks, size = [], 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _Disconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"body exceeds the {limit}-byte limit")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)

        try:
            status, body, extra = await self.answer(headers, scope.get("query_string", b""), read)
        except _Disconnected:
            return
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def answer(self, headers: Mapping[bytes, bytes], query: bytes, read: ReadBody) -> Answer:
        """Status, body and extra headers for one scoring request; never raises."""
        try:
            return 200, await self._score(headers, query, read), []
        except ApiError as exc:
            return error_answer(exc.status, exc.detail, exc.errors)
        except NidsError as exc:
            return error_answer(422 if isinstance(exc, SchemaError) else 503, exc.message)
        except _Disconnected:
            raise
        except Exception:  # never a traceback or an internal path in an answer
            log.exception("unhandled error on /v1/score")
            return error_answer(500, "internal error")

    async def _score(self, headers: Mapping[bytes, bytes], query: bytes, read: ReadBody) -> bytes:
        self.check_token(headers.get(b"authorization", b""))
        explain = "alerts"
        if query:
            given = parse_qs(query.decode("latin-1")).get("explain")
            explain = given[-1] if given else explain
            if explain not in EXPLAIN_CHOICES:
                raise ApiError(422, "explain must be alerts, all or none", field="explain")
        served = self.holder.current
        if served is None:
            raise ApiError(503, "no verified model loaded yet")
        declared = headers.get(b"content-length", b"")
        limit = self.max_body_bytes
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"body of {declared.decode()} bytes exceeds the {limit}-byte limit")
        body = await read(limit)
        content_type = headers.get(b"content-type")
        try:
            flows = parse_flows(
                body,
                content_type.decode("latin-1") if content_type else None,
                max_flows=self.max_flows,
            )
        except TooManyFlowsError as exc:
            raise ApiError(413, exc.message, field="flows") from None
        except UnsupportedMediaTypeError as exc:
            raise ApiError(415, str(exc)) from None
        except SchemaError as exc:
            raise ApiError(422, exc.message, row=exc.line, field=exc.field) from None
        router = self.app.state.ab_router
        if router is not None:  # A/B: each flow is scored by its variant
            from starlette.datastructures import Headers

            request_headers = Headers(raw=list(headers.items()))
            score: Callable[[], bytes] = partial(
                router.score,
                flows,  # the FlowBatch: routing and scoring stay columnar
                self.ctx,
                headers=request_headers,
                explain=explain,
                body=body,  # the shadows get the request as received
                content_type=content_type.decode("latin-1") if content_type else None,
            )
        elif len(flows) <= INLINE_MAX_FLOWS:
            return await self._coalescer.score(flows, served, explain)
        else:
            score = partial(score_request, flows, served, self.ctx, explain=explain)
        if len(flows) <= INLINE_MAX_FLOWS:
            return score()
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(score)


class Coalescer:
    """Scores the small requests that are ready at the same moment in one Scorer call.

    A request appends itself and waits; the first one schedules a flush for the end
    of the event loop's current round, so everything that arrived meanwhile (under
    concurrent load: several requests) is scored together by
    :func:`~nids.serving.scoring.score_many`. Alone, a request waits for nothing.
    Requests are grouped by model and ``explain``; a group is capped at
    ``max_flows`` so one flush never blocks the loop for long.
    """

    def __init__(self, ctx: ScoringContext, *, max_flows: int = 1024) -> None:
        self.ctx = ctx
        self.max_flows = max_flows
        self._pending: list[tuple[Any, Any, str, asyncio.Future[bytes]]] = []
        self._scheduled = False

    async def score(self, flows: Any, served: Any, explain: str) -> bytes:
        """The response body of ``flows``, scored with whatever else is pending."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._pending.append((flows, served, explain, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        groups: dict[tuple[int, str, tuple[str, ...]], list[Any]] = {}
        for item in pending:
            flows, served, explain, _ = item
            groups.setdefault((id(served), explain, tuple(flows.columns)), []).append(item)
        for items in groups.values():
            chunk: list[Any] = []
            size = 0
            for item in items:
                if chunk and size + len(item[0]) > self.max_flows:
                    self._score(chunk)
                    chunk, size = [], 0
                chunk.append(item)
                size += len(item[0])
            self._score(chunk)

    def _score(self, items: list[Any]) -> None:
        from nids.serving.scoring import score_many

        _, served, explain, _ = items[0]
        try:
            bodies = score_many([i[0] for i in items], served, self.ctx, explain=explain)
        except Exception as exc:
            if len(items) > 1:  # one odd request must not fail the others: one by one
                for item in items:
                    self._score([item])
                return
            for *_, future in items:  # the request answers it (500 or its NidsError)
                if not future.done():
                    future.set_exception(exc)
            return
        for (*_, future), body in zip(items, bodies, strict=True):
            if not future.done():
                future.set_result(body)


class _Disconnected(Exception):
    """The client went away before its body arrived: nothing to answer."""
