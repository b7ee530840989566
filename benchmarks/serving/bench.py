"""Serving: open-loop load on the online store and on the HTTP API, and the freshness of a post's score.

    .venv/bin/python benchmarks/serving/bench.py load --seconds 60 --rates 200 1000 2000
    .venv/bin/python benchmarks/serving/bench.py freshness --rate 1000 --seconds 20

load: the demo lake's views (all scored posts, all persons' reports) are loaded into a valkey-server of
this run's own (`datalake serve --rebuild`, the real CLI, as a subprocess on a free loopback port). The
generator, this process, sends requests at fixed intended times (rate r: one every 1/r s, whether or not
earlier ones have answered); a request's latency is its completion minus its intended send time, in an
HDR histogram, so a stall is charged to every request it delays (no coordinated omission). Requests
alternate a post's score and a person's report; keys are uniform or Zipf-skewed over all the real keys.
Targets: `store` sends the API's store commands itself (HMGET of the point row; HGET in the current
snapshot version) over raw RESP connections; `http` the API's GET routes; `store-py` the store commands
through valkey-py's asyncio client, the one the API uses (its cost per command, for the breakdown).

freshness: a fresh lake with the sentiment model trained, the posts stream running continuously in a
child process (as `python -m ...posts.stream --continuous --trigger-seconds 0` runs it, publishing each
micro-batch's scores to the lake's own store, and printing each batch's report) and `datalake serve`;
the replayer lands files at the given rate while this process polls the API's batchGet for the landed
ids. Freshness of a post = the first answer that holds it - its landing file's mtime; each answer's
`scored_at` ties the post to its batch's report, which splits the time into phases.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ctypes
import dataclasses
import datetime as dt
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httptools
import numpy as np
import uvloop
from hdrh.histogram import HdrHistogram

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATALAKE = Path(sys.executable).parent / "datalake"
PREFIX = "dl"
now = time.monotonic  # CLOCK_MONOTONIC: the clock the timerfd ticks on
TIMEOUT_ERRORS = {"timeout", "closed", "connect"}


# -- precise ticks ---------------------------------------------------------------------------------------
class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _timespec(seconds: float) -> _Timespec:
    return _Timespec(int(seconds), int((seconds - int(seconds)) * 1e9))


class Ticker:
    """A periodic Linux timerfd: the event loop wakes at each intended send time within microseconds.
    asyncio's and uvloop's sleeps round to whole milliseconds: at 2,000 requests/s that alone would add
    up to 1 ms of the generator's own lag to every latency (the store's target is 1 ms)."""

    def __init__(self, start: float, period: float):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.timerfd_create(time.CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
        spec = _Itimerspec(_timespec(period), _timespec(start))
        if self.fd < 0 or libc.timerfd_settime(self.fd, 1, ctypes.byref(spec), None) != 0:  # 1: absolute
            raise OSError(ctypes.get_errno(), "timerfd")

    def consume(self) -> bool:
        try:
            os.read(self.fd, 8)
            return True
        except BlockingIOError:
            return False

    def close(self) -> None:
        os.close(self.fd)


# -- recording -------------------------------------------------------------------------------------------
def _histogram() -> HdrHistogram:
    return HdrHistogram(1, 120_000_000, 3)  # microseconds, 1 us .. 120 s, 3 significant digits


def _error_name(detail) -> str:
    if isinstance(detail, str):
        return detail  # timeout, closed, connect
    if isinstance(detail, tuple):
        return f"http {detail[0]}"
    return "store error" if isinstance(detail, RespError) else "not found"


class Recorder:
    """Every request's latency from its intended send time (errors and timeouts included), and how late
    the generator itself dispatched it."""

    def __init__(self):
        self.latency, self.lag = _histogram(), _histogram()
        self.ok, self.completed, self.last = 0, 0, 0.0
        self.errors: collections.Counter[str] = collections.Counter()
        self.samples: dict[str, str] = {}  # the first answer of each kind of error

    def dispatched(self, lag: float) -> None:
        self.lag.record_value(max(1, int(lag * 1e6)))

    def record(self, intended: float, ok: bool, detail) -> None:
        self.last = now()
        self.latency.record_value(max(1, int((self.last - intended) * 1e6)))
        self.completed += 1
        if ok:
            self.ok += 1
            return
        name = _error_name(detail)
        self.errors[name] += 1
        if name not in self.samples:
            sample = detail[1].decode(errors="replace") if isinstance(detail, tuple) else str(detail)
            self.samples[name] = sample[:200]


# -- connections -----------------------------------------------------------------------------------------
@dataclass
class Job:
    payload: object
    intended: float
    callback: Callable
    sent: float = 0.0


class Connection(asyncio.Protocol):
    """One keep-alive connection, at most one request in flight (as an HTTP/1.1 client, and as the API's
    own pool of store connections); the pool queues the rest."""

    def __init__(self, pool: Pool):
        self.pool, self.transport, self.job, self.state = pool, None, None, "opening"

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.pool.ready(self)

    def connection_lost(self, exc) -> None:
        self.pool.lost(self)

    def send(self, job: Job) -> None:
        self.job, job.sent = job, now()
        self.transport.write(job.payload)

    def finish(self, ok: bool, detail) -> None:
        job, self.job = self.job, None
        if job is not None:
            self.pool.finished(self, job, ok, detail)


class HttpConnection(Connection):
    def __init__(self, pool: Pool):
        super().__init__(pool)
        self.parser, self.body = httptools.HttpResponseParser(self), []

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.pool.drop(self, "closed")

    def on_message_begin(self) -> None:
        self.body = []

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        self.finish(status == 200, (status, b"".join(self.body)))


class RespError(str):
    """An error reply of the store."""


INCOMPLETE = object()


def parse_reply(buf: bytearray, pos: int = 0) -> tuple[object, int]:
    """One RESP2 reply from `buf` at `pos`: (value, next position), or INCOMPLETE while it is partial."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        return INCOMPLETE, pos
    kind, line, pos = buf[pos], bytes(buf[pos + 1 : end]), end + 2
    if kind == ord("$"):
        size = int(line)
        if size < 0:
            return None, pos
        if len(buf) < pos + size + 2:
            return INCOMPLETE, pos
        return bytes(buf[pos : pos + size]), pos + size + 2
    if kind == ord("*"):
        items = []
        for _ in range(int(line)):
            item, pos = parse_reply(buf, pos)
            if item is INCOMPLETE:
                return INCOMPLETE, pos
            items.append(item)
        return items, pos
    if kind == ord("-"):
        return RespError(line.decode()), pos
    return (int(line) if kind == ord(":") else line), pos


def command(*parts: str | bytes) -> bytes:
    """A command in RESP, as any client sends it."""
    encoded = [p.encode() if isinstance(p, str) else p for p in parts]
    return b"".join([f"*{len(encoded)}\r\n".encode(), *(b"$%d\r\n%s\r\n" % (len(p), p) for p in encoded)])


class RespConnection(Connection):
    """A store connection: AUTH first, then one command at a time."""

    def __init__(self, pool: Pool, password: str):
        super().__init__(pool)
        self.password, self.buf, self.authenticated = password, bytearray(), False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(command("AUTH", self.password))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        value, pos = parse_reply(self.buf)
        if value is INCOMPLETE:
            return
        del self.buf[:pos]
        if not self.authenticated:
            self.authenticated = value == b"OK"
            self.pool.ready(self) if self.authenticated else self.transport.abort()
            return
        found = value is not None and not isinstance(value, RespError)
        self.finish(found and not (isinstance(value, list) and value[0] is None), value)


class Pool:
    """Connections to one address, opened as the load needs them (up to `limit`): a request that finds
    none idle waits, and its wait counts in its latency. A request not answered `timeout` s after its
    intended send time is an error (its connection is dropped)."""

    def __init__(self, factory: Callable[[Pool], Connection], host: str, port: int, limit: int = 512):
        self.factory, self.host, self.port, self.limit = factory, host, port, limit
        self.idle: collections.deque[Connection] = collections.deque()
        self.waiting: collections.deque[Job] = collections.deque()
        self.busy: set[Connection] = set()
        self.live: set[Connection] = set()
        self.opening, self.peak = 0, 0

    async def open(self, count: int) -> None:
        self.opening += count
        await asyncio.gather(*(self._connect() for _ in range(count)))

    async def _connect(self) -> None:
        try:
            await asyncio.get_running_loop().create_connection(lambda: self.factory(self), self.host, self.port)
        except OSError:
            self.opening -= 1

    def submit(self, payload, intended: float, callback: Callable) -> None:
        job = Job(payload, intended, callback)
        if self.idle:
            self._send(self.idle.pop(), job)
            return
        self.waiting.append(job)
        if len(self.live) + self.opening < self.limit:
            self.opening += 1
            asyncio.get_running_loop().create_task(self._connect())

    def _send(self, conn: Connection, job: Job) -> None:
        self.busy.add(conn)
        self.peak = max(self.peak, len(self.busy))
        conn.send(job)

    def ready(self, conn: Connection) -> None:
        self.opening -= 1
        conn.state = "live"
        self.live.add(conn)
        self._next(conn)

    def finished(self, conn: Connection, job: Job, ok: bool, detail) -> None:
        self.busy.discard(conn)
        job.callback(job.intended, ok, detail)
        self._next(conn)

    def _next(self, conn: Connection) -> None:
        if self.waiting:
            self._send(conn, self.waiting.popleft())
        else:
            self.idle.append(conn)

    def lost(self, conn: Connection) -> None:
        if conn.state == "opening":
            self.opening -= 1
            conn.state = "dead"
        elif conn.state == "live":
            self.drop(conn, "closed")

    def drop(self, conn: Connection, detail: str) -> None:
        """A failed connection: closed, its request (if any) an error."""
        conn.state = "dead"
        self.live.discard(conn)
        self.busy.discard(conn)
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)
        job, conn.job = conn.job, None
        conn.transport.abort()
        if job is not None:
            job.callback(job.intended, False, detail)

    def expire(self, timeout: float) -> None:
        late = now() - timeout
        for conn in [c for c in self.busy if c.job is not None and c.job.intended < late]:
            self.drop(conn, "timeout")
        while self.waiting and self.waiting[0].intended < late:
            job = self.waiting.popleft()
            job.callback(job.intended, False, "timeout")

    async def close(self) -> None:
        for conn in list(self.live):
            conn.transport.close()


class PyStorePool:
    """The same store commands through valkey-py's asyncio client, configured as the API's (`api.py`):
    one task per request. What this costs over `store` is what each read costs the API's process."""

    def __init__(self, url: str, timeout: float):
        import valkey.asyncio as avalkey

        self.client = avalkey.Valkey.from_url(url, max_connections=256, socket_timeout=timeout)
        self.peak, self.running = 0, 0

    async def open(self, count: int) -> None:
        await asyncio.gather(*(self.client.ping() for _ in range(count)))

    def submit(self, payload, intended: float, callback: Callable) -> None:
        asyncio.get_running_loop().create_task(self._one(payload, intended, callback))

    async def _one(self, payload: tuple, intended: float, callback: Callable) -> None:
        import valkey

        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if payload[0] == "hmget":
                body, _ = await self.client.hmget(payload[1], ["j", "v"])
            else:
                body = await self.client.hget(payload[1], payload[2])
            callback(intended, body is not None, body)
        except valkey.TimeoutError:
            callback(intended, False, "timeout")
        except (valkey.ConnectionError, OSError):
            callback(intended, False, "closed")
        finally:
            self.running -= 1

    def expire(self, timeout: float) -> None:
        pass  # the client's own socket timeout

    async def close(self) -> None:
        await self.client.aclose()


# -- the open loop ---------------------------------------------------------------------------------------
async def open_loop(pool, payloads: list, rate: float, recorder: Recorder, timeout: float) -> float:
    """Send payloads[i] at start + i / rate, whatever is still in flight; returns `start` once every
    request has completed or timed out."""
    loop = asyncio.get_running_loop()
    period, count = 1.0 / rate, len(payloads)
    start = now() + 0.05
    ticker = Ticker(start, period)
    sent = 0
    all_sent = loop.create_future()

    def tick() -> None:
        nonlocal sent
        if not ticker.consume():
            return
        t = now()
        due = min(count, int((t - start) / period + 1e-6) + 1)
        while sent < due:
            intended = start + sent * period
            recorder.dispatched(t - intended)
            pool.submit(payloads[sent], intended, recorder.record)
            sent += 1
        if sent == count and not all_sent.done():
            loop.remove_reader(ticker.fd)
            all_sent.set_result(None)

    loop.add_reader(ticker.fd, tick)
    try:
        while not all_sent.done() or recorder.completed < count:
            await asyncio.sleep(0.02)
            pool.expire(timeout)
    finally:
        if not all_sent.done():
            loop.remove_reader(ticker.fd)
        ticker.close()
    return start


# -- keys and requests -----------------------------------------------------------------------------------
def lake_keys(root: str) -> tuple[list, list]:
    """Every scored post's id and every person's id, as the lake holds them."""
    from datalake_platform.domains.posts.online import SCORES
    from datalake_platform.domains.transactions.online import REPORT
    from datalake_platform.lake.backends import storage_for_root
    from datalake_platform.serving.sync import lake_rows, lake_snapshot

    storage = storage_for_root(root)
    keys = []
    for view in (SCORES, REPORT):
        keys.append(sorted({row[view.key] for row in lake_rows(storage, view, lake_snapshot(storage, view))}))
    return keys[0], keys[1]


def draw(keys: list, count: int, dist: str, zipf_s: float, rng: np.random.Generator) -> list:
    """`count` keys, uniform or Zipf (rank k drawn in proportion to k^-s; which key has which rank is random)."""
    if dist == "uniform":
        return [keys[i] for i in rng.integers(len(keys), size=count)]
    weights = np.arange(1, len(keys) + 1, dtype=float) ** -zipf_s
    ranked = rng.permutation(len(keys))
    return [keys[ranked[r]] for r in rng.choice(len(keys), size=count, p=weights / weights.sum())]


def mixed_keys(posts: list, persons: list, count: int, dist: str, zipf_s: float, seed: int) -> list[tuple]:
    """Even requests read a post's score, odd ones a person's report."""
    rng = np.random.default_rng(seed)
    post_keys = draw(posts, (count + 1) // 2, dist, zipf_s, rng)
    person_keys = draw(persons, count // 2, dist, zipf_s, rng)
    return [("post", post_keys[i // 2]) if i % 2 == 0 else ("person", person_keys[i // 2]) for i in range(count)]


def http_payloads(keys: list[tuple], port: int) -> list[bytes]:
    from datalake_platform.domains.posts.online import SCORES
    from datalake_platform.domains.transactions.online import REPORT

    def get(kind, key):
        path = SCORES.path.format(post_id=key) if kind == "post" else REPORT.path.format(id_persona=key)
        return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()

    return [get(kind, key) for kind, key in keys]


def store_payloads(keys: list[tuple], version: str, raw: bool) -> list:
    """The API's commands: HMGET <point row> j v for a score; HGET <snapshot version> <id> for a report."""
    from datalake_platform.domains.posts.online import SCORES
    from datalake_platform.domains.transactions.online import REPORT
    from datalake_platform.serving.store import Keys

    scores, reports = Keys(PREFIX, SCORES), Keys(PREFIX, REPORT)
    out = []
    for kind, key in keys:
        if kind == "post":
            out.append(command("HMGET", scores.point(key), "j", "v") if raw else ("hmget", scores.point(key)))
        else:
            name = reports.version(version)
            out.append(command("HGET", name, str(key)) if raw else ("hget", name, str(key)))
    return out


# -- processes -------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_env(root: str, url: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATALAKE_SERVING_API_KEYS"}
    return {
        **env,
        "DATALAKE_ENV": "local",
        "DATALAKE_ROOT": root,
        "DATALAKE_SERVING_URL": url,
        "DATALAKE_SERVING_PREFIX": PREFIX,
        "DAGSTER_HOME": str(workdir / ".dagster"),
    }


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, seconds: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def own_store(root: str) -> Iterator[tuple[str, int]]:
    """A valkey-server of this run's own (the platform's local store of `root`): its URL and pid."""
    from datalake_platform.serving.local_store import local_store_url, stop_local_store, store_dir

    url = local_store_url(root)
    try:
        yield url, json.loads((store_dir(root) / "valkey.json").read_text())["pid"]
    finally:
        stop_local_store(root)


@contextlib.contextmanager
def api_server(root: str, url: str, workdir: Path, rebuild: bool, ready: str) -> Iterator[tuple[int, int]]:
    """`datalake serve` on a free port, until `ready` answers 200: its port and pid."""
    port = free_port()
    args = [str(DATALAKE), "serve", "--port", str(port), *(["--rebuild"] if rebuild else [])]
    log_path = workdir / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(args, cwd=workdir, env=child_env(root, url, workdir), stdout=log, stderr=log)
    try:
        wait_http(f"http://127.0.0.1:{port}{ready}", process, log_path, 900)
        yield port, process.pid
    finally:
        stop(process)


def wait_http(url: str, process: subprocess.Popen, log_path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError), urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 in {seconds:.0f} s; see {log_path}")


# -- CPU -------------------------------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants (the stream's JVM): user + system of each, with what
    their exited children used."""
    procs = {}  # pid -> (parent pid, CPU ticks)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            procs[int(stat.parent.name)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
    tree, grown = {pid}, True
    while grown:
        grown = False
        for child, (parent, _) in procs.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grown = True
    return sum(procs[p][1] for p in tree if p in procs) / TICK


def machine_cpu() -> tuple[float, float]:
    """CPU seconds of the machine, all cores: (idle, stolen by the hypervisor). Idle, not busy: a tickless
    kernel measures idle time exactly but samples busy time at its ticks, which misses short bursts."""
    values = [int(v) / TICK for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return values[3] + values[4], values[7]


@dataclass
class CpuMeter:
    """Each process's CPU over a window, in % of one core (the machine has os.cpu_count() cores); `other`
    is every other process of the machine (neighbours' jobs), `steal` what the hypervisor gave elsewhere."""

    pids: dict[str, int]
    start: dict[str, float] = field(default_factory=dict)
    result: dict[str, float] = field(default_factory=dict)

    def _read(self) -> dict[str, float]:
        idle, steal = machine_cpu()
        reaped = os.times().children_user + os.times().children_system  # the replayer, once it exited
        ours = {"gen": time.process_time() + reaped, **{k: process_cpu(p) for k, p in self.pids.items()}}
        return {**ours, "idle": idle, "steal": steal, "t": now()}

    def __enter__(self) -> CpuMeter:
        self.start = self._read()
        return self

    def __exit__(self, *exc) -> None:
        end = self._read()
        wall = end["t"] - self.start["t"]
        used = {k: (end[k] - self.start[k]) / wall * 100 for k in end if k != "t"}
        ours = {k: v for k, v in used.items() if k not in ("idle", "steal")}
        busy = (os.cpu_count() or 1) * 100 - used["idle"] - used["steal"]
        self.result = {f"cpu_{k}_pct": round(v, 1) for k, v in ours.items()}
        self.result["cpu_other_pct"] = round(busy - sum(ours.values()), 1)
        self.result["cpu_steal_pct"] = round(used["steal"], 1)


# -- load ------------------------------------------------------------------------------------------------
@dataclass
class LoadSetup:
    posts: list
    persons: list
    store_url: str
    store_pid: int
    api_port: int
    api_pid: int
    version: str


def make_pool(target: str, setup: LoadSetup, timeout: float):
    if target == "store-py":
        return PyStorePool(setup.store_url, timeout)
    if target == "http":
        return Pool(HttpConnection, "127.0.0.1", setup.api_port)
    address = urllib.parse.urlsplit(setup.store_url)
    password = urllib.parse.unquote(address.password or "")
    return Pool(lambda pool: RespConnection(pool, password), address.hostname, address.port)


def payloads_for(target: str, setup: LoadSetup, keys: list[tuple]) -> list:
    if target == "http":
        return http_payloads(keys, setup.api_port)
    return store_payloads(keys, setup.version, raw=target == "store")


async def refresh_version(url: str) -> None:
    """What the API does besides each read of a report: the current version, every 0.25 s (api.py)."""
    import valkey.asyncio as avalkey

    from datalake_platform.domains.transactions.online import REPORT
    from datalake_platform.serving.store import Keys

    keys = Keys(PREFIX, REPORT)
    async with avalkey.Valkey.from_url(url) as client:
        while True:
            async with client.pipeline(transaction=False) as pipe:
                await pipe.get(keys.current).hget(keys.status, "as_of_ms").execute()
            await asyncio.sleep(0.25)


async def run_cell(target: str, setup: LoadSetup, rate: float, dist: str, args) -> dict:
    """One cell: warm-up (not recorded), then `seconds` at `rate` with the CPU of every process measured."""
    keys = mixed_keys(setup.posts, setup.persons, int(rate * (args.warmup + args.seconds)), dist, args.zipf_s, 1)
    payloads = payloads_for(target, setup, keys)
    warm = int(rate * args.warmup)
    pool = make_pool(target, setup, args.timeout)
    await pool.open(args.connections)
    refresher = asyncio.get_running_loop().create_task(refresh_version(setup.store_url)) if target != "http" else None
    try:
        if warm:
            await open_loop(pool, payloads[:warm], rate, Recorder(), args.timeout)
        gc.collect()
        gc.disable()  # no collector pause of the generator's inside the window
        recorder = Recorder()
        with CpuMeter({"api": setup.api_pid, "store": setup.store_pid}) as cpu:
            start = await open_loop(pool, payloads[warm:], rate, recorder, args.timeout)
    finally:
        gc.enable()
        if refresher is not None:
            refresher.cancel()
        await pool.close()
    return summary(target, dist, rate, args, recorder, start, pool.peak) | cpu.result


def summary(target: str, dist: str, rate: float, args, recorder: Recorder, start: float, peak: int) -> dict:
    h = recorder.latency
    ms = {q: round(h.get_value_at_percentile(q) / 1000, 3) for q in (50, 95, 99, 99.9)}
    return {
        "run": args.run,
        "target": target,
        "mix": "alternate post score / person report",
        "keys": dist if dist == "uniform" else f"zipf s={args.zipf_s}",
        "rate_per_s": rate,
        "seconds": args.seconds,
        "requests": recorder.completed,
        "ok": recorder.ok,
        "errors": dict(recorder.errors),
        "error_samples": recorder.samples,
        # answered with a 200 per second, from the first intended send to the last completion
        "achieved_per_s": round(recorder.ok / max(recorder.last - start, 1e-9), 1),
        "p50_ms": ms[50],
        "p95_ms": ms[95],
        "p99_ms": ms[99],
        "p99_9_ms": ms[99.9],
        "max_ms": round(h.get_max_value() / 1000, 3),
        "dispatch_lag_p99_ms": round(recorder.lag.get_value_at_percentile(99) / 1000, 3),
        "peak_in_flight": peak,
    }


def load(args) -> list[dict]:
    posts, persons = lake_keys(args.root)
    print(f"{len(posts):,} scored posts, {len(persons):,} persons in {args.root}", flush=True)
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp,
        own_store(f"{tmp}/store") as (url, store_pid),
        api_server(args.root, url, Path(tmp), rebuild=True, ready="/readyz") as (port, api_pid),
    ):
        setup = LoadSetup(posts, persons, url, store_pid, port, api_pid, current_version(url))
        for rate in args.rates:
            for dist in args.dists:
                for target in args.targets:
                    row = uvloop.run(run_cell(target, setup, rate, dist, args))
                    print(json.dumps(row), flush=True)
                    rows.append(row)
                    time.sleep(args.pause)  # an overloaded server finishes what it queued before the next cell
    return rows


def current_version(url: str) -> str:
    import valkey

    from datalake_platform.domains.transactions.online import REPORT
    from datalake_platform.serving.store import Keys

    with valkey.Valkey.from_url(url) as client:
        return client.get(Keys(PREFIX, REPORT).current).decode()


def load_table(rows: list[dict]) -> str:
    head = (
        "| target | keys | rate/s | requests | errors | achieved/s | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms "
        "| dispatch lag p99 ms | CPU % gen / api / store / other / steal |"
    )
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        errors = sum(r["errors"].values())
        cpu = " / ".join(f"{r[f'cpu_{k}_pct']:.0f}" for k in ("gen", "api", "store", "other", "steal"))
        lines.append(
            f"| {r['target']} | {r['keys']} | {r['rate_per_s']:,.0f} | {r['requests']:,} | {errors:,} "
            f"| {r['achieved_per_s']:,.0f} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['p99_9_ms']} "
            f"| {r['max_ms']} | {r['dispatch_lag_p99_ms']} | {cpu} |"
        )
    return "\n".join(lines)


# -- freshness -------------------------------------------------------------------------------------------
def train(root: str) -> None:
    """The sentiment model of a fresh lake: benchmarks/streaming's own step (run in a child process: Spark)."""
    import importlib.util

    from datalake_platform.lake.backends import storage_for_root

    spec = importlib.util.spec_from_file_location("streaming_bench", REPO / "benchmarks" / "streaming" / "bench.py")
    streaming = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(streaming)
    streaming.train(storage_for_root(root))


@dataclass
class LandedFile:
    mtime: float
    pending: list[int]


class Landing:
    """The replayer's files as they land: each post's file modification time."""

    def __init__(self, folder: Path, first_id: int):
        self.folder, self.first_id = folder, first_id
        self.names: set[str] = set()
        self.mtime: dict[int, float] = {}

    def scan(self) -> list[LandedFile]:
        new = []
        for path in sorted(self.folder.glob("dt=*/*.jsonl")):
            if path.name in self.names or path.name.startswith(("_", ".")):
                continue
            self.names.add(path.name)
            ids = [json.loads(line)["id"] for line in path.read_text().splitlines() if line]
            ids = [i for i in ids if i >= self.first_id]
            if ids:
                mtime = path.stat().st_mtime
                self.mtime.update(dict.fromkeys(ids, mtime))
                new.append(LandedFile(mtime, ids))
        return new


def batch_get(pool: Pool, port: int, ids: list[int]) -> asyncio.Future:
    """POST /v1/posts:batchGet; resolves to (ok, (status, body) or an error)."""
    from datalake_platform.domains.posts.online import SCORES

    body = json.dumps({"post_ids": ids}).encode()
    head = (
        f"POST {SCORES.batch_path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    future = asyncio.get_running_loop().create_future()
    pool.submit(head.encode() + body, now(), lambda _, ok, detail: future.done() or future.set_result((ok, detail)))
    return future


async def found_ids(pool: Pool, port: int, ids: list[int]) -> tuple[dict[int, str], float]:
    """Which of `ids` the API answers with (each with its `scored_at`), and when the answer arrived."""
    answers = await asyncio.gather(*(batch_get(pool, port, ids[i : i + 100]) for i in range(0, len(ids), 100)))
    seen_at, wanted, found = time.time(), set(ids), {}
    for ok, detail in answers:
        if ok:
            rows = json.loads(detail[1])["results"]
            found.update((r["post_id"], r["scored_at"]) for r in rows if r["post_id"] in wanted)
    return found, seen_at


@dataclass
class Seen:
    at: dict[int, float] = field(default_factory=dict)  # post id -> wall-clock time first seen
    scored_at: dict[int, str] = field(default_factory=dict)  # post id -> its micro-batch's scoring time

    def add(self, found: dict[int, str], at: float) -> None:
        self.scored_at.update(found)
        self.at.update(dict.fromkeys(found, at))


async def watch(port: int, landing: Landing, replayer: subprocess.Popen, grace: float, cycle: float) -> Seen:
    """Poll the API until every landed post has been seen (or `grace` s after the replayer ended).
    Each cycle probes one pending post per file in one batchGet; a file whose probe is seen has all its
    pending posts asked for at once (a file is scored in one micro-batch). A post is seen at the first
    answer that holds it: at most one cycle later than it became readable."""
    pool = Pool(HttpConnection, "127.0.0.1", port, limit=64)
    await pool.open(8)
    files: list[LandedFile] = []
    seen, ended = Seen(), None
    while True:
        started = now()
        files += landing.scan()
        if ended is None and replayer.poll() is not None:
            ended = now()
            files += landing.scan()
        if ended is not None and (not files or now() - ended > grace):
            break
        probes = {f.pending[0]: f for f in files}
        seen.add(*await found_ids(pool, port, list(probes)))
        rest = [p for h in probes if h in seen.at for p in probes[h].pending if p not in seen.at]
        if rest:
            seen.add(*await found_ids(pool, port, rest))
        for f in files:
            f.pending = [p for p in f.pending if p not in seen.at]
        files = [f for f in files if f.pending]
        await asyncio.sleep(max(0.0, cycle - (now() - started)))
    await pool.close()
    return seen


def replay(root: str, rate: float, posts: int, id_offset: int, workdir: Path) -> subprocess.Popen:
    """The replayer as a process of its own: `posts` posts at `rate`, the tweets looped with shifted ids."""
    loops = -(-posts // 4200)
    limit = -(-posts // loops)
    args = [sys.executable, "-m", "datalake_platform.domains.posts.replay", "--root", root, "--rate", str(rate)]
    args += ["--limit", str(limit), "--loops", str(loops), "--id-offset", str(id_offset)]
    return subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL)


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _quantiles(name: str, values: list[float]) -> dict:
    if not values:
        return {f"{name}_p50_s": None, f"{name}_p95_s": None}
    return {f"{name}_p{q}_s": round(float(np.percentile(values, q)), 3) for q in (50, 95)}


def phases(landing: Landing, seen: Seen, batches: list[dict]) -> dict:
    """Where a post's freshness goes, from its micro-batch's report (matched by `scored_at`): waiting for
    its batch to score (landing -> scored_at: the previous batch, listing, reading), scoring and the
    Iceberg commit, publishing to the store, and the store to this poller's first answer."""
    by_scored = {round(_epoch(b["scored_at"]), 3): b for b in batches if b["scored_at"]}
    parts: dict[str, list[float]] = {"wait": [], "score_commit": [], "publish": [], "poll": []}
    used = {}
    for post, iso in seen.scored_at.items():
        batch = by_scored.get(round(_epoch(iso), 3))
        if batch is None:
            continue
        used[batch["batch_id"]] = batch
        scored, committed, published = (
            _epoch(batch[k]) for k in ("scored_at", "scores_committed_at", "scores_published_at")
        )
        parts["wait"].append(scored - landing.mtime[post])
        parts["score_commit"].append(committed - scored)
        parts["publish"].append(published - committed)
        parts["poll"].append(seen.at[post] - published)
    out = {
        "micro_batches": len(used),
        "mean_batch_s": round(sum(b["seconds"] for b in used.values()) / max(1, len(used)), 2),
    }
    out["batches"] = [(b["posts"], round(b["seconds"], 2)) for _, b in sorted(used.items())]
    for name, values in parts.items():
        out |= _quantiles(name, values)
    return out


def measure_freshness(
    root: str, port: int, workdir: Path, rate: float, posts: int, id_offset: int, cycle: float, grace: float
) -> tuple[Landing, Seen]:
    from datalake_platform.domains.posts.tables import LANDING_POSTS
    from datalake_platform.lake.backends import storage_for_root

    landing = Landing(Path(storage_for_root(root).table_uri(LANDING_POSTS)), id_offset)
    replayer = replay(root, rate, posts, id_offset, workdir)
    return landing, uvloop.run(watch(port, landing, replayer, grace, cycle))


def freshness_row(landing: Landing, seen: Seen) -> dict:
    fresh = [seen.at[p] - landing.mtime[p] for p in seen.at]
    missing = sorted(set(landing.mtime) - set(seen.at))
    row = {
        "posts_landed": len(landing.mtime),
        "seen": len(seen.at),
        "missing": len(missing),
        "missing_ids": missing[:20],
    }
    row |= {f"p{q}_s": round(float(np.percentile(fresh, q)), 3) if fresh else None for q in (50, 95, 99)}
    return row | {"max_s": round(max(fresh), 3) if fresh else None}


def run_stream(root: str) -> None:
    """The posts stream as `python -m ...posts.stream --continuous --trigger-seconds 0` runs it (the store
    from the environment), printing each micro-batch's report as a JSON line. Stopped by SIGINT."""
    from datalake_platform.domains.posts import stream
    from datalake_platform.governance.pii import lake_key
    from datalake_platform.lake.backends import storage_for_root
    from datalake_platform.serving.connection import open_store
    from datalake_platform.settings import current
    from datalake_platform.spark.session import get_or_create_session

    settings, storage = current(), storage_for_root(root)
    online = open_store(settings.serving_url, settings.serving_prefix, root, settings.env)
    spark = get_or_create_session(conf={"spark.sql.shuffle.partitions": "2"})

    def report(batch) -> None:
        print("BATCH " + json.dumps(dataclasses.asdict(batch), default=str), flush=True)

    key = lake_key(storage, settings.pii_key)
    query = stream.start(spark, storage, key, False, trigger_seconds=0, on_batch=report, online=online)
    query.awaitTermination()


def stream_reports(log: Path) -> list[dict]:
    lines = log.read_text(errors="replace").splitlines()
    reports = [json.loads(x.removeprefix("BATCH ")) for x in lines if x.startswith("BATCH ")]
    for r in reports:  # str() of a datetime: "2026-12-06 02:12:00.123456+00:00"
        for k in ("scored_at", "scores_committed_at", "scores_published_at"):
            r[k] = r[k].replace(" ", "T") if r[k] not in (None, "None") else None
    return reports


@contextlib.contextmanager
def posts_stream(root: str, url: str, workdir: Path) -> Iterator[tuple[Path, int]]:
    """The posts stream, continuous, publishing to the store: its log and pid."""
    log_path = workdir / "stream.log"
    with open(log_path, "w") as log:
        args = [sys.executable, __file__, "stream", "--root", root]
        process = subprocess.Popen(args, cwd=workdir, env=child_env(root, url, workdir), stdout=log, stderr=log)
    try:
        yield log_path, process.pid
    finally:
        stop(process, signal.SIGINT, 60)


def freshness(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-fresh-", ignore_cleanup_errors=True) as tmp:
        workdir, root = Path(tmp), f"{tmp}/lake"
        print("training the sentiment model ...", flush=True)
        subprocess.run([sys.executable, __file__, "train", "--root", root], cwd=workdir, check=True)
        with (
            own_store(root) as (url, store_pid),
            posts_stream(root, url, workdir) as (log, stream_pid),
            api_server(root, url, workdir, rebuild=False, ready="/healthz") as (port, api_pid),
        ):
            # The JVM's JIT compiles Spark's code paths for minutes: a stream that runs for hours is measured warm.
            warm_posts = int(args.rate * args.warmup)
            print(f"warm-up: {warm_posts:,} posts at {args.rate:,.0f}/s ...", flush=True)
            warm = freshness_row(
                *measure_freshness(root, port, workdir, args.rate, warm_posts, 100_000, args.cycle, 600)
            )
            print(f"warm-up: {json.dumps(warm)}", flush=True)
            posts = int(args.rate * args.seconds)
            print(f"{posts:,} posts at {args.rate:,.0f}/s ...", flush=True)
            with CpuMeter({"stream": stream_pid, "api": api_pid, "store": store_pid}) as cpu:
                landing, seen = measure_freshness(
                    root, port, workdir, args.rate, posts, 1_000_000, args.cycle, args.grace
                )
            time.sleep(2)  # the last batch's report comes after its posts, metrics and quarantine writes
            result = freshness_row(landing, seen) | phases(landing, seen, stream_reports(log)) | cpu.result
    return {"run": args.run, "rate_per_s": args.rate, "seconds": args.seconds, "warmup_s": args.warmup} | result


def freshness_table(row: dict) -> str:
    parts = ("wait", "score_commit", "publish", "poll")
    phases = " | ".join(f"{row[f'{k}_p50_s']} / {row[f'{k}_p95_s']}" for k in parts)
    cpu = " / ".join(f"{row[f'cpu_{k}_pct']:.0f}" for k in ("stream", "api", "store", "gen", "other", "steal"))
    return "\n".join(
        [
            "| rate posts/s | landed | seen | missing | micro-batches | mean s per batch | p50 s | p95 s | p99 s | max s |",
            "|" + "---|" * 10,
            f"| {row['rate_per_s']:,.0f} | {row['posts_landed']:,} | {row['seen']:,} | {row['missing']} "
            f"| {row['micro_batches']} | {row['mean_batch_s']} | {row['p50_s']} | {row['p95_s']} | {row['p99_s']} "
            f"| {row['max_s']} |",
            "",
            "| s, p50 / p95: wait for a batch | score + commit | publish | to first answer "
            "| CPU % stream / api / store / poller+replayer / other / steal |",
            "|" + "---|" * 5,
            f"| {phases} | {cpu} |",
        ]
    )


# -- main ------------------------------------------------------------------------------------------------
def save(rows: list[dict], kind: str, out: Path) -> None:
    with open(out, "a") as handle:
        for row in rows:
            handle.write(json.dumps({"bench": kind, **row}) + "\n")
    print(f"raw rows appended to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / f"results-{dt.date.today().isoformat()}.jsonl")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("load", help="open-loop latency of the store and of the HTTP API")
    p.add_argument("--root", default=str(REPO / "lake"), help="the lake whose views are served (the demo lake)")
    p.add_argument("--rates", type=float, nargs="+", default=[200, 1000, 2000])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--warmup", type=float, default=3, help="seconds at the rate before each cell, not recorded")
    p.add_argument("--dists", nargs="+", default=["uniform", "zipf"], choices=["uniform", "zipf"])
    p.add_argument("--zipf-s", type=float, default=1.1)
    p.add_argument("--targets", nargs="+", default=["store", "http"], choices=["store", "store-py", "http"])
    p.add_argument("--connections", type=int, default=32, help="opened before a cell (more as the load needs)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds before a request counts as a timeout")
    p.add_argument("--pause", type=float, default=3.0, help="seconds between two cells")
    f = commands.add_parser("freshness", help="landing file to first 200 of its posts, through the stream")
    f.add_argument("--rate", type=float, default=1000)
    f.add_argument("--seconds", type=float, default=20)
    f.add_argument("--warmup", type=float, default=60, help="seconds of posts at the rate first, not recorded")
    f.add_argument("--cycle", type=float, default=0.025, help="seconds between two polls of the API")
    f.add_argument("--grace", type=float, default=120, help="seconds to wait for the last posts")
    for internal in ("train", "stream"):  # the freshness run's child processes
        commands.add_parser(internal, help=argparse.SUPPRESS).add_argument("--root", required=True)
    args = parser.parse_args()
    args.run = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")  # which rows of the jsonl ran together
    if args.command == "train":
        train(args.root)
    elif args.command == "stream":
        run_stream(args.root)
    elif args.command == "load":
        rows = load(args)
        print(load_table(rows))
        save(rows, "load", args.out)
    else:
        row = freshness(args)
        print(freshness_table(row))
        save([row], "freshness", args.out)


if __name__ == "__main__":
    main()
