"""Database faults: while the database is unreachable every answer is 503 with Retry-After in the one error shape,
/readyz says why, and the app recovers by itself once the database is back.

The end-to-end tests run the app as shipped (gunicorn, see the Dockerfile) against a TCP forwarder to the local
PostgreSQL that can be cut and restored, which is what a database restart looks like to the app: refused
connections, and established ones dropped. No test data is needed there (the `postgres` database, `SELECT 1`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

import pytest
from django.db import OperationalError

from agreements.models import Place
from compliance.models import IdempotencyRecord
from tests.agreements.test_api import place_payload

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = ("127.0.0.1", 5432)  # the local PostgreSQL that .ci/run starts; only connected to, never stopped
REFUSED = OperationalError(
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused'
)


def failing_queries():
    return mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=REFUSED)


def assert_unavailable(status: int, headers, body: bytes) -> dict:
    assert status == 503, (status, body[:300])
    assert headers["Retry-After"] == "5"
    assert headers["Content-Type"].startswith("application/json")
    payload = json.loads(body)
    assert set(payload["error"]) == {"code", "message", "fields"}
    assert payload["error"]["code"] == "database_unavailable"
    return payload


# --- in the test process --------------------------------------------------------------------------------------------


def test_the_api_answers_503_while_queries_fail(api):
    client = api.client("analyst")
    with failing_queries():
        response = client.get("/api/v1/violations/")  # the token lookup is the first query to fail
    assert_unavailable(response.status_code, response, response.content)


def test_a_page_outside_the_api_answers_503_too(client, db):
    client.cookies["sessionid"] = "a" * 32  # the admin loads the session, and so the user, from the database
    with failing_queries():
        response = client.get("/admin/")
    assert_unavailable(response.status_code, response, response.content)


def test_an_idempotent_post_whose_commit_fails_answers_503_and_keeps_nothing(api):
    # Storing the answer happens after DRF has answered, so the middleware, not DRF's handler, turns this into a 503.
    client = api.client("admin")
    with mock.patch.object(IdempotencyRecord, "save", side_effect=REFUSED):
        response = client.post("/api/v1/places/", place_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert_unavailable(response.status_code, response, response.content)
    assert not Place.objects.exists()
    assert client.post("/api/v1/places/", place_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201


def test_readyz_says_why(client, db):
    with failing_queries():
        response = client.get("/readyz")
    payload = assert_unavailable(response.status_code, response, response.content)
    assert payload["database"]["error"] == "OperationalError"
    assert payload["database"]["reason"] == "Connection refused"
    if "pool" in payload["database"]:  # PostgreSQL with the pool: the server itself is up, only queries fail here
        assert payload["database"]["direct_connection"] == "ok (the pool had no free connection in time)"
    assert "Connection refused" in payload["error"]["message"]
    assert "5432" not in response.content.decode()  # the probe answers anyone: no server address


def test_a_503_is_not_a_500_in_the_log(api, caplog):
    client = api.client("analyst")
    with failing_queries():
        client.get("/api/v1/violations/")
    assert "Database unavailable" in caplog.text
    assert "Unhandled error" not in caplog.text


# --- end to end: gunicorn against a database that goes away and comes back ------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Forwarder:
    """127.0.0.1:<port> → the local PostgreSQL, switchable: `down()` closes the port and drops open connections."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self):
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.05)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            dropped, self._open = self._open, []
        for sock in dropped:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener):
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.settimeout(None)
            with self._lock:
                self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def gunicorn(database_port: int, *, pool: bool, log: Path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{database_port}/postgres",
        "DB_POOL": "1" if pool else "0",
        "DB_POOL_TIMEOUT": "0.5",
        "DB_POOL_RECONNECT_TIMEOUT": "0.5",
        "DB_CONNECT_TIMEOUT": "2",
        "SECRET_KEY": "fault-tests-only",
        "DEBUG": "0",
        "DJANGO_ENV": "development",
        "STATIC_MANIFEST": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "gunicorn", "compliance.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--no-control-socket", "--access-logfile", "-"]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while request(base, "/healthz")[0] != 200:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def request(base: str, path: str, *, method: str = "GET", headers: dict | None = None, body: bytes | None = None):
    call = urllib.request.Request(base + path, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(call, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()
    except (ConnectionError, urllib.error.URLError):
        return None, {}, b""


def ready_within(base: str, seconds: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        status, _, body = request(base, "/readyz")
        if status == 200:
            assert json.loads(body) == {"status": "ok", "database": "ok"}
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(
        f"/readyz still not ready after {seconds} s: {status} {body[:300]!r} "
        f"(the forwarder leads to the local PostgreSQL at {POSTGRES[0]}:{POSTGRES[1]}: is it running?)"
    )


@pytest.mark.parametrize("pool", [True, False], ids=["pool", "no-pool"])
def test_an_outage_is_503_with_retry_after_and_recovered_from_without_a_restart(pool, tmp_path):
    database = Forwarder(POSTGRES)  # down at first: nothing listens on its port
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(database.down)
        app = cleanup.enter_context(gunicorn(database.port, pool=pool, log=tmp_path / "gunicorn.log"))
        status, headers, body = request(app, "/readyz")
        why = assert_unavailable(status, headers, body)["database"]
        if pool:
            assert why["error"] == "PoolTimeout"
            assert why["pool"]["pool_max"] == 4 and why["pool"]["connections_errors"] >= 1
            assert why["direct_connection"] == "failed: OperationalError: Connection refused"
        else:
            assert why == {"error": "OperationalError", "reason": "Connection refused"}

        token = {"Authorization": "Token not-checked-while-the-database-is-down"}
        write = {**token, "Content-Type": "application/json", "Idempotency-Key": "outage-1"}
        assert_unavailable(*request(app, "/api/v1/violations/", headers=token))
        assert_unavailable(*request(app, "/api/v1/violations/", method="POST", headers=write, body=b"{}"))
        assert_unavailable(*request(app, "/admin/", headers={"Cookie": "sessionid=" + "a" * 32}))

        database.up()
        ready_within(app, 5)
        database.down()  # a restart: the established connection is dropped, new ones are refused
        assert_unavailable(*request(app, "/readyz"))
        database.up()
        ready_within(app, 5)
