"""The serving API (FastAPI, through Starlette's test client) over a real valkey-server: the answers,
the data's age, and every bad request as a 4xx that says what is wrong; a store down is a 503."""

import asyncio
import datetime as dt
import json
import time

import httpx
import pytest
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from datalake_platform import registry
from datalake_platform.domains.posts.online import METRICS, SCORES
from datalake_platform.domains.transactions.online import REPORT
from datalake_platform.serving.api import AGE, MAX_BODY_BYTES, Guard, create_app
from datalake_platform_tests.conftest import free_port
from datalake_platform_tests.serving.conftest import DAY, minute_row, report_row, score_row
from datalake_platform_tests.serving.test_store import _url

KEY = "k" * 32
MINUTE = dt.datetime.combine(DAY, dt.time(12, 0), dt.UTC)


@pytest.fixture
def loaded(store):
    """The three views with a few rows each, as the stream and the online assets write them; the
    posts scored 2 s ago."""
    scored_at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=2)
    store.upsert_points(SCORES, [score_row(i, i / 10, scored_at) for i in range(1, 6)], 30)
    store.upsert_series(
        METRICS, [minute_row(MINUTE, 10, 0.5), minute_row(MINUTE + dt.timedelta(minutes=1), 2, 0)], 1, 30
    )
    other_day = DAY - dt.timedelta(days=1)  # the same minute, posted late: in the earlier landing day too
    store.upsert_series(METRICS, [minute_row(MINUTE, 30, 0.1, day=other_day)], 1, 30)
    rows = [report_row("00001", "11.77", 1), report_row("00002", "1234567890.01", 12)]
    store.load_snapshot(REPORT, rows, version=4, as_of=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    return store, scored_at


def _client(store, api_keys=()) -> TestClient:
    return TestClient(create_app(_url(store), store.prefix, registry.online_views(), api_keys))


def test_a_score_a_report_a_batch_and_a_range_answer_with_the_stored_values_and_their_age(loaded):
    store, scored_at = loaded
    with _client(store) as api:
        score = api.get("/v1/posts/3/score")
        assert score.status_code == 200
        assert score.json() == {
            "post_id": 3,
            "score": 0.3,
            "label": "negative",
            "model_version": "m1",
            "scored_at": scored_at.isoformat().replace("+00:00", "Z"),
        }
        assert 2 <= float(score.headers[AGE]) < 60
        report = api.get("/v1/persons/00002/report").json()
        assert report == {
            "ID_PERSONA": "00002",
            "MONTO_TRANSACCIONES": "1234567890.01",  # exact: a string, never a float
            "NUM_TRANSACCIONES": 12,
            "PRIMERA_COMPRA": "1997-01-01",
            "ULTIMA_COMPRA": "1997-03-01",
            "as_of": "2026-12-01T00:00:00Z",
        }
        batch = api.post("/v1/posts:batchGet", json={"post_ids": [5, 1, 404, 5]}).json()
        assert [r["post_id"] for r in batch["results"]] == [5, 1] and batch["missing"] == [404]
        late = (MINUTE + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
        metrics = api.get("/v1/posts/metrics", params={"from": MINUTE.isoformat(), "to": late}).json()
        first, second = metrics["minutes"]
        # The minute in two landing days is one answer: 40 posts, sentiment weighted by posts.
        assert (first["posts"], first["hashtags"], round(first["mean_sentiment"], 6)) == (40, 2, 0.2)
        assert (second["posts"], second["mean_sentiment"]) == (2, 0)
        assert api.get("/readyz").json() == {
            "status": "ready",
            "views_loaded": {v.name: True for v in registry.online_views()},
        }
        paths = api.get("/openapi.json").json()["paths"]
        assert {"/v1/posts/{post_id}/score", "/v1/persons/{id_persona}/report", "/v1/posts:batchGet"} <= set(paths)


BAD_REQUESTS = [
    ("get", "/v1/posts/999999/score", None, 404, "no post 999999"),
    ("get", "/v1/persons/99999/report", None, 404, "no person 99999"),
    ("get", "/v1/posts/abc/score", None, 422, "malformed"),
    ("get", "/v1/posts/0/score", None, 422, "malformed"),
    ("get", "/v1/posts/99999999999999999999999/score", None, 422, "malformed"),
    ("get", "/v1/persons/a%20b/report", None, 422, "malformed"),
    ("get", "/v1/persons/" + "9" * 65 + "/report", None, 422, "malformed"),
    ("post", "/v1/posts:batchGet", b'{"post_ids": [1, 2', 422, "must be"),
    ("post", "/v1/posts:batchGet", b'{"post_ids": ["1"]}', 422, "must be"),
    ("post", "/v1/posts:batchGet", b'{"ids": [1]}', 422, "must be"),
    ("post", "/v1/posts:batchGet", b"[1, 2]", 422, "must be"),
    ("post", "/v1/posts:batchGet", b"\xff\xfe", 422, "must be"),
    ("post", "/v1/posts:batchGet", json.dumps({"post_ids": list(range(1, 102))}).encode(), 413, "at most 100"),
    ("post", "/v1/posts:batchGet", b" " * (MAX_BODY_BYTES + 1), 413, "over"),
    ("get", "/v1/posts/metrics?from=2026-01-02T00:00:00&to=2026-01-01T00:00:00", None, 422, "before"),
    ("get", "/v1/posts/metrics?from=2026-01-01T00:00:00&to=2026-02-01T00:00:00", None, 422, "longer"),
    ("get", "/v1/posts/metrics?from=yesterday&to=2026-01-01T00:00:00", None, 422, "malformed"),
    ("get", "/v1/posts/metrics", None, 422, "malformed"),
    ("get", "/v1/nothing/here", None, 404, "Not Found"),
    ("delete", "/v1/posts/1/score", None, 405, "Method Not Allowed"),
]


def test_every_bad_request_is_a_4xx_that_says_what_is_wrong(loaded):
    with _client(loaded[0]) as api:
        for method, path, body, status, says in BAD_REQUESTS:
            answer = api.request(method, path, content=body)
            assert answer.status_code == status, (method, path, answer.text)
            assert says in answer.json()["error"], (path, answer.json())
        assert api.get("/v1/posts/abc/score").json()["details"][0]["where"] == "path.post_id"
        chunks = (b" " * 1024 for _ in range(65))  # no Content-Length: sent chunked
        chunked = api.post("/v1/posts:batchGet", content=chunks)
        assert chunked.status_code == 413 and "over" in chunked.json()["error"]


def test_api_keys_are_required_on_data_routes_and_never_on_health(loaded):
    with _client(loaded[0], api_keys=[KEY]) as api:
        assert api.get("/v1/posts/1/score").status_code == 401
        assert api.get("/v1/posts/1/score", headers={"X-API-Key": "k" * 31 + "x"}).status_code == 401
        assert api.get("/v1/posts/1/score", headers={"X-API-Key": KEY}).status_code == 200
        assert api.get("/v1/posts/1/score", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        assert api.post("/v1/posts:batchGet", json={"post_ids": [1]}).status_code == 401
        assert api.get("/healthz").status_code == 200 and api.get("/readyz").status_code == 200


def test_a_store_down_is_a_503_and_not_loaded_views_make_it_not_ready(store):
    with _client(store) as api:  # nothing loaded under this prefix yet
        ready = api.get("/readyz")
        assert ready.status_code == 503 and not any(ready.json()["views_loaded"].values())
        assert api.get("/v1/persons/00001/report").status_code == 503
    down = create_app(f"valkey://127.0.0.1:{free_port()}/0", "t", registry.online_views())
    with TestClient(down) as api:
        started = time.monotonic()
        for path in ("/v1/posts/1/score", "/v1/persons/00001/report", "/readyz"):
            answer = api.get(path)
            assert answer.status_code == 503 and "does not answer" in answer.json()["error"], (path, answer.text)
        assert time.monotonic() - started < 15
        assert api.get("/healthz").status_code == 200


def test_past_its_capacity_the_api_refuses_at_once_and_serves_again_when_requests_finish():
    async def scenario() -> tuple[list[int], httpx.Response, int]:
        release = asyncio.Event()

        async def slow_route(scope, receive, send):
            await release.wait()
            await JSONResponse({"ok": True})(scope, receive, send)

        guard = Guard(slow_route, api_keys=[], max_in_flight=2)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://api") as client:
            held = [asyncio.create_task(client.get("/v1/posts/1/score")) for _ in range(2)]
            await asyncio.sleep(0.1)
            refused = await client.get("/v1/posts/2/score")
            release.set()
            answered = [r.status_code for r in await asyncio.gather(*held)]
            again = await client.get("/v1/posts/3/score")
            return answered, refused, again.status_code

    answered, refused, again = asyncio.run(scenario())
    assert answered == [200, 200] and again == 200
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "at capacity (2 requests in flight)" in refused.json()["error"]
