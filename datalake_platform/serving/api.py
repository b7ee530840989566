"""The serving API: FastAPI over the online store, one route (or two) per online view.

- point view:    GET  <path>          one key -> its row, e.g. /v1/posts/{post_id}/score
                 POST <batch_path>    {"<key>s": [...]} (at most `max_batch`) -> found rows and missing keys
- series view:   GET  <path>?from=&to= -> the rows of a time range (at most `max_range`), merged per time
- snapshot view: GET  <path>          one key -> its row in the version current when asked, with `as_of`
- /healthz (the process answers), /readyz (the store answers and every view is loaded), /openapi.json, /docs

Every answer with data carries `X-Data-Age-Seconds`: how old the data is (since it was scored, refreshed
or committed). Bad input is a 4xx that says what is wrong: an unknown key 404, a malformed one 422,
an oversized batch or body 413, a missing or wrong API key 401; a store that does not answer is a 503.
Rows are stored as the JSON the API answers with, so a read is one store round trip and no re-encoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import inspect
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import valkey
import valkey.asyncio as avalkey
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from datalake_platform.serving.store import Keys
from datalake_platform.serving.views import OnlineView, ViewKind, dumps, epoch_seconds

log = logging.getLogger("datalake_platform.serving")

MAX_BODY_BYTES = 64 * 1024
MAX_IN_FLIGHT = 128  # requests served at once; about 0.1 s of queue at this API's capacity on one core
STORE_ERRORS = (valkey.ConnectionError, valkey.TimeoutError, OSError)  # AuthenticationError is a ConnectionError
OPEN_PATHS = {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
SNAPSHOT_REFRESH_SECONDS = 0.25  # how often a snapshot view's current version is looked up again
AGE = "X-Data-Age-Seconds"


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        self.status, self.message, self.extra = status, message, extra


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _json(body: bytes, age_seconds: float | None) -> Response:
    headers = {AGE: f"{max(age_seconds, 0.0):.3f}"} if age_seconds is not None else None
    return Response(content=body, media_type="application/json", headers=headers)


class SnapshotVersions:
    """The version each snapshot view serves, looked up at most every SNAPSHOT_REFRESH_SECONDS: a switch
    is seen within that time, and a reader always reads one whole version (the previous one stays
    readable for a grace period after a switch)."""

    def __init__(self, client: avalkey.Valkey, keys: Keys):
        self.client, self.keys = client, keys
        self.version: str | None = None
        self.as_of_ms = 0
        self.checked = 0.0
        self._lock = asyncio.Lock()

    async def current(self) -> tuple[str | None, int]:
        if time.monotonic() - self.checked > SNAPSHOT_REFRESH_SECONDS:
            async with self._lock:
                if time.monotonic() - self.checked > SNAPSHOT_REFRESH_SECONDS:
                    async with self.client.pipeline(transaction=False) as pipe:
                        current, as_of = await pipe.get(self.keys.current).hget(self.keys.status, "as_of_ms").execute()
                    self.version = current.decode() if current else None
                    self.as_of_ms = int(as_of or 0)
                    self.checked = time.monotonic()
        return self.version, self.as_of_ms


def create_app(url: str, prefix: str, views: Sequence[OnlineView], api_keys: Sequence[str] = ()) -> FastAPI:
    """The API over the store at `url`. With `api_keys`, every data route needs one (`X-API-Key`)."""
    # A connection per request in flight (Guard bounds them), so a request never waits for one.
    pool = avalkey.BlockingConnectionPool.from_url(
        url, max_connections=MAX_IN_FLIGHT, timeout=5, socket_timeout=5, socket_connect_timeout=5
    )
    client = avalkey.Valkey(connection_pool=pool)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await client.aclose()
        await pool.disconnect()

    app = FastAPI(
        lifespan=lifespan,
        title="datalake serving API",
        version="1",
        description="Scores, metrics and reports of the lake, from its online store, in milliseconds.",
    )
    app.state.client = client
    _guard(app, list(api_keys))
    for view in views:
        keys = Keys(prefix, view)
        if view.kind == ViewKind.POINT:
            _point_routes(app, client, view, keys)
        elif view.kind == ViewKind.SERIES:
            _series_route(app, client, view, keys)
        else:
            _snapshot_route(app, view, keys, SnapshotVersions(client, keys))
    _health_routes(app, client, views, prefix)
    return app


class Guard:
    """API keys, the body's size and load shedding, before any routing. A plain ASGI middleware:
    Starlette's `BaseHTTPMiddleware` (`@app.middleware`) costs a task group and memory streams per
    request, about a quarter of a read's CPU (benchmarks/serving).

    Past MAX_IN_FLIGHT requests, a new one is refused at once with a 503 and `Retry-After`: answering
    it later would spend the CPU on a client that has likely given up, and the rate answered would
    collapse rather than hold at the API's capacity."""

    def __init__(self, app, api_keys: Sequence[str], max_in_flight: int):
        self.app, self.max_in_flight, self.in_flight = app, max_in_flight, 0
        self.expected = [k.encode() for k in api_keys]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = self._refusal(scope)
        if refusal is not None:
            return await refusal(scope, receive, send)
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def _refusal(self, scope) -> Response | None:
        headers = dict(scope["headers"])
        if self.expected and scope["path"] not in OPEN_PATHS:
            given = headers.get(b"x-api-key") or headers.get(b"authorization", b"").removeprefix(b"Bearer ")
            if not any(hmac.compare_digest(given, key) for key in self.expected):
                return _error(401, "a valid API key is required (header X-API-Key)")
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return _error(413, f"the request body is over {MAX_BODY_BYTES} bytes")
        if self.in_flight >= self.max_in_flight:
            overloaded = _error(503, f"the API is at capacity ({self.in_flight} requests in flight); retry later")
            overloaded.headers["Retry-After"] = "1"
            return overloaded
        return None


def _guard(app: FastAPI, api_keys: list[str]) -> None:
    """API keys, sizes, shedding (Guard); errors as `{"error": ...}` with the right status."""
    app.add_middleware(Guard, api_keys=api_keys, max_in_flight=MAX_IN_FLIGHT)

    async def store_down(request: Request, error: Exception) -> JSONResponse:
        log.warning("online store unavailable: %s", error)
        return _error(503, "the online store does not answer; retry later")

    for error_type in STORE_ERRORS:
        app.add_exception_handler(error_type, store_down)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
        return _error(500, "internal error; it has been logged")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return _error(error.status, error.message, **error.extra)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")} for e in error.errors()
        ]
        return _error(422, "the request is malformed", details=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail))


def _with_signature(function: Callable, parameters: list[inspect.Parameter]) -> Callable:
    """`function` as FastAPI sees it: the view's own parameter names and types (built per view)."""
    function.__signature__ = inspect.Signature(parameters)
    return function


def _key_parameter(view: OnlineView) -> inspect.Parameter:
    name = re.search(r"\{(\w+)\}", view.path).group(1)
    if view.key_type is int:
        annotation = Annotated[int, Path(ge=1, le=2**63 - 1, description=f"the {view.key}")]
    else:
        annotation = Annotated[str, Path(pattern=view.key_pattern, description=f"the {view.key}")]
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)


def _point_routes(app: FastAPI, client: avalkey.Valkey, view: OnlineView, keys: Keys) -> None:
    parameter = _key_parameter(view)
    noun = view.table.domain.rstrip("s")

    async def get_one(**kwargs) -> Response:
        key = kwargs[parameter.name]
        body, version = await client.hmget(keys.point(key), ["j", "v"])
        if body is None:
            raise ApiError(404, f"no {noun} {key}")
        return _json(body, time.time() - int(version) / 1e6)

    app.get(view.path, summary=view.description, tags=[view.table.domain], name=f"{view.name}:get")(
        _with_signature(get_one, [parameter])
    )
    if not view.batch_path:
        return
    field = f"{view.key}s"

    async def get_many(request: Request) -> Response:
        # The body is parsed here, not by FastAPI: whatever its content type, bad JSON is one clear 422.
        try:
            wanted = json.loads(await _body(request)).get(field)
        except (ValueError, AttributeError):
            wanted = None
        if not isinstance(wanted, list) or any(
            type(k) is not view.key_type or (view.key_type is int and not 1 <= k < 2**63) for k in wanted
        ):
            raise ApiError(
                422, f'the body must be {{"{field}": [...]}}, a list of {view.key_type.__name__} {view.key}s'
            )
        if len(wanted) > view.max_batch:
            raise ApiError(413, f"at most {view.max_batch} {field} per request, not {len(wanted)}")
        wanted = list(dict.fromkeys(wanted))
        async with client.pipeline(transaction=False) as pipe:
            for key in wanted:
                pipe.hmget(keys.point(key), ["j", "v"])
            found = await pipe.execute()
        rows = [json.loads(b) for b, _ in found if b is not None]
        missing = [k for k, (b, _) in zip(wanted, found) if b is None]
        oldest = min((int(v) for _, v in found if v is not None), default=None)
        age = time.time() - oldest / 1e6 if oldest is not None else None
        return _json(dumps({"results": rows, "missing": missing}), age)

    item = {"type": "integer", "minimum": 1} if view.key_type is int else {"type": "string"}
    schema = {"type": "object", "required": [field], "properties": {field: {"type": "array", "items": item}}}
    app.post(
        view.batch_path,
        summary=f"Many at once (at most {view.max_batch}): {view.description}",
        tags=[view.table.domain],
        name=f"{view.name}:batchGet",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schema, "example": {field: [1, 2, 3]}}},
            }
        },
    )(get_many)


async def _body(request: Request) -> bytes:
    """The body, at most MAX_BODY_BYTES: Guard refuses a longer declared length, this a chunked one."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, f"the request body is over {MAX_BODY_BYTES} bytes")
    return bytes(body)


def _series_route(app: FastAPI, client: avalkey.Valkey, view: OnlineView, keys: Keys) -> None:
    async def get_range(
        start: Annotated[dt.datetime, Query(alias="from", description="first time (ISO 8601; UTC without a zone)")],
        end: Annotated[dt.datetime, Query(alias="to", description="last time, included")],
    ) -> Response:
        start, end = _aware(start), _aware(end)
        if end < start:
            raise ApiError(422, "`to` is before `from`")
        if end - start > view.max_range:
            raise ApiError(422, f"the range is longer than {view.max_range}; ask for less")
        async with client.pipeline(transaction=False) as pipe:
            members, updated = (
                await pipe.zrangebyscore(keys.index, epoch_seconds(start), epoch_seconds(end))
                .hget(keys.status, "updated_ms")
                .execute()
            )
        rows = _merged(view, [json.loads(m) for m in members])
        body = {"from": _iso(start), "to": _iso(end), view.key + "s": rows}
        age = time.time() - int(updated) / 1000 if updated else None
        return _json(dumps(body), age)

    app.get(view.path, summary=view.description, tags=[view.table.domain], name=f"{view.name}:range")(get_range)


def _merged(view: OnlineView, rows: list[dict]) -> list[dict]:
    by_time: dict[str, list[dict]] = {}
    for row in rows:
        by_time.setdefault(row[view.key], []).append(row)
    merge = view.merge or (lambda same: {k: v for k, v in same[0].items() if k != "dt"})
    return [merge(same) for _, same in sorted(by_time.items())]


def _snapshot_route(app: FastAPI, view: OnlineView, keys: Keys, versions: SnapshotVersions) -> None:
    parameter = _key_parameter(view)
    noun = view.path.strip("/").split("/")[1].rstrip("s")  # /v1/persons/{id}/report -> person

    async def get_one(**kwargs) -> Response:
        key = kwargs[parameter.name]
        version, as_of_ms = await versions.current()
        if version is None:
            raise ApiError(503, f"{view.name} is not loaded in the online store yet")
        body = await versions.client.hget(keys.version(version), key)
        if body is None:
            raise ApiError(404, f"no {noun} {key}")
        as_of = dt.datetime.fromtimestamp(as_of_ms / 1000, dt.UTC)
        # The stored row is a JSON object: `as_of` is appended to it rather than decoded and encoded again.
        return _json(body[:-1] + b',"as_of":' + dumps(_iso(as_of)) + b"}", time.time() - as_of_ms / 1000)

    app.get(view.path, summary=view.description, tags=[view.table.domain], name=f"{view.name}:get")(
        _with_signature(get_one, [parameter])
    )


def _health_routes(app: FastAPI, client: avalkey.Valkey, views: Sequence[OnlineView], prefix: str) -> None:
    @app.get("/healthz", tags=["health"], summary="The API process answers.")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The store answers and every online view has been loaded.")
    async def readyz() -> JSONResponse:
        try:
            await client.ping()
        except STORE_ERRORS as error:
            return _error(503, f"the online store does not answer: {type(error).__name__}")
        loaded = {}
        for view in views:
            loaded[view.name] = await client.exists(Keys(prefix, view).status) == 1
        status = 200 if all(loaded.values()) else 503
        return JSONResponse({"status": "ready" if status == 200 else "not ready", "views_loaded": loaded}, status)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
