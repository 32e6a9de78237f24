"""The floor of any Python scoring service on this machine: a bare ASGI app.

``serve_bench.py --floor`` runs this app under the same uvicorn (uvloop, httptools,
no access log, one worker) as our service. Per request it does only what every
scoring server must do and nothing else: read the body, decode it (msgspec's generic
JSON decoder, or an Arrow IPC stream), and answer a JSON body the size of ours (one
fixed result object per flow). No validation, features, forest or outputs. Its
latency is therefore a lower bound for our service; ``mlflow p50 / floor p50`` is the
highest ratio any Python service could show against ``mlflow models serve`` here.

Run: ``uvicorn --app-dir benchmarks serve_floor:app`` (``serve_bench.py`` does).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pyarrow as pa

# One result as our service answers it for a flow that raised no alert (~250 bytes).
RESULT = (
    b'{"community_id":"1:Tb/UOF4OAbX/UNUTeI5Qpu18zT4=","score":0.5392870321101199,'
    b'"is_alert":false,"suppressed":null,"threshold":0.6422038976675463,'
    b'"model_name":"nids-isoforest","model_version":"1","model_semver":"1.0.0",'
    b'"variant":"default","top_features":[]}'
)
HEAD = b'{"model":{"name":"nids-isoforest","version":"1","semver":"1.0.0"},"results":['
_DECODER = msgspec.json.Decoder()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read, decode, answer a same-sized body."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "http":
        return
    if scope["method"] == "GET":  # readiness
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if dict(scope["headers"]).get(b"content-type", b"").startswith(b"application/vnd.apache"):
        n = pa.ipc.open_stream(body).read_all().num_rows
    else:
        n = len(_DECODER.decode(body)["flows"])
    answer = HEAD + b",".join([RESULT] * n) + b"]}"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(answer)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answer})
