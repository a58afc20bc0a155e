"""A database restart under write load: is every acknowledged write kept, and none written twice?

    .venv/bin/python benchmarks/fault_restart.py [--seconds 30] [--threads 4] [--restart-at 10]

Not part of the test suite (it takes about a minute). It sets up everything it uses and removes it afterwards:

1. a PostgreSQL cluster of its own (initdb in a temporary folder, a free port on 127.0.0.1), migrated, with the
   Sochi demo, a monitor and their token;
2. the app as shipped (gunicorn, 3 sync workers, the psycopg pool on), on a free port on 127.0.0.1;
3. `--threads` clients POSTing violations for `--seconds`, each with its own Idempotency-Key and a marker in its
   description, retrying a failed POST (no answer, 5xx, 409) with the same key up to MAX_ATTEMPTS times;
4. `pg_ctl restart -m fast` of that cluster `--restart-at` seconds in (or, with `--down-for S`, a fast stop, S seconds
   down, and a start: a longer outage).

Then it counts, per marker, what the clients were told (2xx) and what the database holds, and prints the statuses
seen while the database was away. It exits 1 if an acknowledged write is missing or a marker is stored twice.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MAX_ATTEMPTS = 40
RETRY_PAUSE_SECONDS = 0.5  # bounded and short, so the run measures recovery rather than the Retry-After advice
REQUEST_TIMEOUT_SECONDS = 20


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if candidates:
        return candidates[-1]
    found = shutil.which("pg_ctl")
    if not found:
        sys.exit("No PostgreSQL server binaries (initdb, pg_ctl) found.")
    return Path(found).parent


class Cluster:
    """A throwaway PostgreSQL: initdb in `folder`, trust authentication, listening on 127.0.0.1:`port` only."""

    def __init__(self, folder: Path):
        self.bindir = postgres_bindir()
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "postgres.log"
        self.port = free_port()
        # PostgreSQL refuses to run as root: then the cluster belongs to the `postgres` system user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            owner = pwd.getpwnam("postgres")
            os.chown(folder, owner.pw_uid, owner.pw_gid)

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, str(self.bindir / command[0]), *command[1:]], capture_output=True, text=True, check=check
        )

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        self.start()
        self.run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", "CREATE DATABASE compliance")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def restart(self, down_for: float) -> None:
        if down_for <= 0:
            self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "restart")
            return
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        time.sleep(down_for)
        self.start()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/compliance"


def app_environment(cluster: Cluster) -> dict:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_"))},
        "DATABASE_URL": cluster.url,
        "SECRET_KEY": "fault-restart-benchmark-only",
        "DEBUG": "0",
        "DJANGO_ENV": "development",
        "STATIC_MANIFEST": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        # The clients write far faster than a person: the per-user write limit would turn the run into 429s.
        "API_THROTTLE_WRITE": "",
        "API_THROTTLE_USER": "",
    }


SETUP = """
import json
from django.contrib.auth.models import Group, User
from agreements.models import Actor, Agreement, Clause, Place
from compliance.tokens import token_issue
user = User.objects.create_user("fault-monitor")
user.groups.add(Group.objects.get(name="monitor"))
_, key = token_issue(user=user, name="fault_restart")
agreement = Agreement.objects.get(slug="sochi-2018")
print(json.dumps({
    "key": key,
    "agreement": agreement.slug,
    "clause": Clause.objects.filter(agreement=agreement).order_by("position", "id").first().pk,
    "place": Place.objects.order_by("id").first().pk,
    "actor": Actor.objects.get(slug="syrian-arab-army").slug,
}))
"""

COUNT = """
import json, os
from agreements.models import Violation
rows = Violation.objects.filter(description__startswith=os.environ["FAULT_RESTART_PREFIX"])
print(json.dumps(list(rows.values_list("description", flat=True))))
"""


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result.stdout


def http(base: str, path: str, *, method="GET", headers=None, body: bytes | None = None):
    """(status or None, headers, body); None is no answer at all (refused, reset, timed out)."""
    call = urllib.request.Request(base + path, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(call, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()
    except (OSError, urllib.error.URLError) as error:
        return None, {"X-Client-Error": type(getattr(error, "reason", error)).__name__}, b""


class Load:
    """The clients: each write is one marker and one key, retried with that key until acknowledged or given up."""

    def __init__(self, base: str, setup: dict, run_id: str):
        self.base = base
        self.setup = setup
        self.prefix = f"Fault-restart {run_id} "
        self.lock = threading.Lock()
        self.acknowledged: set[str] = set()
        self.given_up: set[str] = set()
        self.rejected: dict[str, int] = {}
        self.replays = 0
        self.attempts: list[tuple[float, str]] = []  # (time, status or client error)
        self.retried_writes = 0

    def body(self, marker: str) -> bytes:
        return json.dumps(
            {
                "agreement": self.setup["agreement"],
                "clauses": [self.setup["clause"]],
                "category": "shelling",
                "description": f"{marker}: shelling reported during the database restart benchmark.",
                "started_at": "2019-05-06T04:00:00Z",
                "place": self.setup["place"],
                "perpetrators": [self.setup["actor"]],
            }
        ).encode()

    def write(self, marker: str) -> None:
        headers = {
            "Authorization": f"Token {self.setup['key']}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": str(uuid.uuid4()),
        }
        body = self.body(marker)
        for attempt in range(MAX_ATTEMPTS):
            status, response_headers, _ = http(
                self.base, "/api/v1/violations/", method="POST", headers=headers, body=body
            )
            seen = str(status) if status is not None else f"no answer ({response_headers['X-Client-Error']})"
            with self.lock:
                self.attempts.append((time.monotonic(), seen))
                if attempt == 1:
                    self.retried_writes += 1
            if status is not None and 200 <= status < 300:
                with self.lock:
                    self.acknowledged.add(marker)
                    self.replays += response_headers.get("Idempotent-Replayed") == "true"
                return
            if status is not None and 400 <= status < 500 and status != 409:
                with self.lock:
                    self.rejected[marker] = status
                return
            time.sleep(RETRY_PAUSE_SECONDS)
        with self.lock:
            self.given_up.add(marker)

    def client(self, number: int, until: float) -> None:
        n = 0
        while time.monotonic() < until:
            n += 1
            self.write(f"{self.prefix}t{number}-{n:05d}")


def wait_until_ready(base: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if http(base, "/readyz")[0] == 200:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{base}/readyz not ready after {seconds} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--restart-at", type=float, default=10)
    parser.add_argument(
        "--down-for", type=float, default=0, help="stop, wait this long, start (default 0: pg_ctl restart -m fast)"
    )
    args = parser.parse_args()

    # SIGTERM (a CI timeout, `kill`) unwinds through the `finally` below like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    folder = Path(tempfile.mkdtemp(prefix="fault-restart-"))
    cluster = Cluster(folder)
    gunicorn = None
    try:
        log(f"PostgreSQL {cluster.bindir.parent.name}: initdb in {folder}, port {cluster.port}")
        cluster.init()
        env = app_environment(cluster)
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "load_sochi")
        setup = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # The Dockerfile's command, on loopback; no control socket, so it cannot clash with another gunicorn.
        command = [PYTHON, "-m", "gunicorn", "compliance.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        command += ["--workers", "3", "--access-logfile", str(folder / "access.log"), "--no-control-socket"]
        with (folder / "gunicorn.log").open("w") as output:
            gunicorn = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        wait_until_ready(base, 20)
        log(f"gunicorn (3 workers, pool on) at {base}; {args.threads} clients for {args.seconds:.0f} s")

        run_id = uuid.uuid4().hex[:8]
        load = Load(base, setup, run_id)
        start = time.monotonic()
        clients = [
            threading.Thread(target=load.client, args=(i, start + args.seconds), daemon=True)
            for i in range(args.threads)
        ]
        for thread in clients:
            thread.start()

        time.sleep(args.restart_at)
        outage_start = time.monotonic()
        log("pg_ctl restart -m fast" if args.down_for <= 0 else f"pg_ctl stop -m fast; {args.down_for:.0f} s; start")
        cluster.restart(args.down_for)
        restarted = time.monotonic()
        wait_until_ready(base, 30)
        ready = time.monotonic()
        log(f"PostgreSQL back after {restarted - outage_start:.2f} s; /readyz 200 after {ready - outage_start:.2f} s")

        for thread in clients:
            thread.join(args.seconds + MAX_ATTEMPTS * (RETRY_PAUSE_SECONDS + REQUEST_TIMEOUT_SECONDS))
        elapsed = time.monotonic() - start

        counted = manage({**env, "FAULT_RESTART_PREFIX": load.prefix}, "shell", "-c", COUNT)
        found = Counter(description.split(":", 1)[0] for description in json.loads(counted.strip().splitlines()[-1]))
        missing = sorted(load.acknowledged - set(found))
        duplicated = sorted(marker for marker, count in found.items() if count > 1)
        unacknowledged = sorted(set(found) - load.acknowledged)
        # The outage as the clients saw it: from the restart until the first acknowledgement after /readyz said ok.
        during = Counter(seen for at, seen in load.attempts if outage_start <= at <= ready + 1)
        failures = Counter(seen for _, seen in load.attempts if not seen.startswith("2"))

        report = {
            "duration_s": round(elapsed, 1),
            "writes_attempted": len(load.acknowledged | load.given_up | set(load.rejected)),
            "requests_sent": len(load.attempts),
            "acknowledged_2xx": len(load.acknowledged),
            "acknowledged_by_replay": load.replays,
            "writes_that_needed_a_retry": load.retried_writes,
            "found_in_database": len(found),
            "rows_in_database": sum(found.values()),
            "acknowledged_but_missing": len(missing),
            "duplicated_markers": len(duplicated),
            "stored_but_never_acknowledged": len(unacknowledged),
            "given_up_after_retries": len(load.given_up),
            "rejected_4xx": dict(Counter(load.rejected.values())),
            "postgres_restart_s": round(restarted - outage_start, 2),
            "readyz_ok_after_s": round(ready - outage_start, 2),
            "statuses_during_outage": dict(sorted(during.items())),
            "non_2xx_statuses_whole_run": dict(sorted(failures.items())),
        }
        print(json.dumps(report, indent=2))
        if missing:
            print(f"FAIL: acknowledged but missing: {missing[:10]}")
        if duplicated:
            print(f"FAIL: stored more than once: {duplicated[:10]}")
        if not load.acknowledged:
            print("FAIL: no write was acknowledged at all")
        if not failures:
            print("NOTE: no request failed during the restart; the run did not exercise the outage")
        ok = not missing and not duplicated and load.acknowledged
        print("OK: every acknowledged write is stored exactly once" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.terminate()
            try:
                gunicorn.wait(15)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
                gunicorn.wait()
        cluster.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(folder)
        log("cleaned up: gunicorn stopped, PostgreSQL stopped, temporary cluster removed")


if __name__ == "__main__":
    sys.exit(main())
