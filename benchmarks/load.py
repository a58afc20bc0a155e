"""Load test: the app under gunicorn as the Dockerfile runs it (3 sync workers), on loopback, with 32 clients.

    python benchmarks/load.py postgres://postgres@127.0.0.1:5432/compliance_bench_100000 [--seconds 60]

Three phases against the same server, each `--seconds` long (bounded: it ends on time, whatever happens):
1. a trivial JSON view (`/healthz`): the stack's own ceiling on this machine;
2. the read mix: half the first list page of 50 (what a dashboard polls), half violation details;
3. the 90/10 mix: the read mix with one request in ten a POST of a new violation (a monitor's token).

The client is asyncio on the standard library, HTTP/1.1 keep-alive, one connection per client; it reads whole
bodies. An error is any status other than 200/201, a reset connection or a read past 10 s (a timeout).
Targets: read mix >= 50% of the trivial view's requests/s; 90/10 mix with no error or timeout and p99 < 500 ms.
The violations the 90/10 phase writes stay, as a mission's would: the dataset grows by some hundreds of rows a run,
which no case depends on.
"""

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
CLIENTS = 32
TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(database_url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_ENV": "production", "DEBUG": "0"}
    env.pop("API_ANSWER_CACHE_MAX_BYTES", None)  # as shipped: the bench turns the cache off for its floors
    env.update(SECRET_KEY="load-test-only-" + "x" * 40, ALLOWED_HOSTS="127.0.0.1", SECURE_SSL_REDIRECT="0")
    env.update(API_THROTTLE_USER="", API_THROTTLE_ANON="", API_THROTTLE_WRITE="", STATIC_MANIFEST="0")
    return env


def manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


KEYS = """
from django.contrib.auth.models import Group, User
from compliance.tokens import token_issue
from agreements.models import Violation
keys = {}
for role in ("analyst", "monitor"):
    user, _ = User.objects.get_or_create(username=f"load-{role}")
    user.groups.add(Group.objects.get(name=role))
    keys[role] = token_issue(user=user, name="load test")[1]
ids = list(Violation.objects.standing().order_by("-started_at").values_list("uuid", flat=True)[:2000])
print("JSON" + __import__("json").dumps({"keys": keys, "ids": [str(i) for i in ids]}))
"""


async def request(reader, writer, method: str, path: str, headers: dict, body: bytes = b"") -> tuple[int, bool]:
    """(status, whether the server keeps the connection open); gunicorn's sync workers close it after each."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length, chunked, keep = 0, False, True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
        elif name == b"connection" and value == b"close":
            keep = False
    if not chunked:
        await reader.readexactly(length)
        return status, keep
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return status, keep


class Tally:
    def __init__(self):
        self.latencies, self.errors, self.timeouts, self.statuses = [], 0, 0, {}

    def line(self, seconds: float) -> dict:
        ordered = sorted(self.latencies)
        p = (lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000) if ordered else (lambda q: 0)
        return {
            "rps": len(ordered) / seconds, "p50": p(0.5), "p99": p(0.99), "errors": self.errors,
            "timeouts": self.timeouts, "statuses": self.statuses,
        }  # fmt: skip


async def client(port: int, deadline: float, pick, tally: Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            method, path, headers, body = pick()
            start = time.perf_counter()
            try:
                status, keep = await asyncio.wait_for(request(reader, writer, method, path, headers, body), TIMEOUT)
            except TimeoutError:
                tally.timeouts += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            except (ConnectionError, asyncio.IncompleteReadError):
                tally.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            tally.latencies.append(time.perf_counter() - start)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status not in (200, 201):
                tally.errors += 1
            if not keep:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


def phase(port: int, seconds: float, make_pick) -> dict:
    async def run():
        tally = Tally()
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(client(port, deadline, make_pick(i), tally) for i in range(CLIENTS)))
        return tally

    started = time.perf_counter()
    tally = asyncio.run(run())
    return tally.line(time.perf_counter() - started)


def readers(keys: dict, ids: list[str]):
    auth = {"Authorization": f"Token {keys['analyst']}"}

    def make(i: int):
        rng = random.Random(i)

        def pick():
            if rng.random() < 0.5:
                return "GET", "/api/v1/violations/?page_size=50", auth, b""
            return "GET", f"/api/v1/violations/{rng.choice(ids)}/", auth, b""

        return pick

    return make


def writers(keys: dict, ids: list[str]):
    read = readers(keys, ids)
    auth = {"Authorization": f"Token {keys['monitor']}", "Content-Type": "application/json"}

    def make(i: int):
        rng, read_pick = random.Random(1000 + i), read(i)

        def pick():
            if rng.random() >= 0.1:
                return read_pick()
            body = {
                "agreement": "sochi-2018", "category": "shelling", "description": "Load test: shelling reported.",
                "started_at": f"2019-06-{rng.randint(1, 28):02d}T0{rng.randint(0, 9)}:00:00Z",
                "latitude": round(35.4 + rng.random() / 10, 6), "longitude": round(36.5 + rng.random() / 10, 6),
                "location_precision": "exact", "perpetrators": ["unknown"],
                "new_sources": [{"publisher": "Load", "title": f"Load {rng.random()}", "kind": "news_report"}],
            }  # fmt: skip
            return "POST", "/api/v1/violations/", auth, json.dumps(body).encode()

        return pick

    return make


def cases(database_url: str, seconds: float = 60):
    from benchmarks.common import Line

    env = environment(database_url)
    found = manage(env, "shell", "-c", KEYS).strip().splitlines()[-1]
    setup = json.loads(found[4:])
    port = free_port()
    command = [PYTHON, "-m", "gunicorn", "compliance.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "3", "--no-control-socket"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        trivial = phase(port, seconds, lambda i: lambda: ("GET", "/healthz", {}, b""))
        read = phase(port, seconds, readers(setup["keys"], setup["ids"]))
        mixed = phase(port, seconds, writers(setup["keys"], setup["ids"]))
    finally:
        server.terminate()
        server.wait(30)
    share = read["rps"] / trivial["rps"]
    yield Line("load: trivial JSON view", trivial["rps"], "req/s", "the ceiling", trivial["errors"] == 0,
               note=f"p99 {trivial['p99']:.0f} ms, statuses {trivial['statuses']}")  # fmt: skip
    yield Line("load: read mix (list of 50 + detail)", read["rps"], "req/s", ">= 0.5x trivial view",
               share >= 0.5 and read["errors"] == 0, trivial["rps"],
               note=f"p99 {read['p99']:.0f} ms, timeouts {read['timeouts']}, statuses {read['statuses']}")  # fmt: skip
    clean = mixed["errors"] == 0 and mixed["timeouts"] == 0 and mixed["p99"] < 500
    yield Line("load: 90/10 read/write mix, p99", mixed["p99"], "ms", "< 500 ms, no error or timeout", clean,
               note=f"{mixed['rps']:.0f} req/s, errors {mixed['errors']}, timeouts {mixed['timeouts']}, "
               f"statuses {mixed['statuses']}")  # fmt: skip


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    for line in cases(args.database_url, args.seconds):
        print(line.render(), flush=True)


if __name__ == "__main__":
    main()
