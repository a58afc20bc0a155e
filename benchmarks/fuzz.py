"""Fuzz the live API with Schemathesis: every operation of /api/schema/, every check, a fixed seed.

    .venv/bin/python benchmarks/fuzz.py [--max-examples 25] [--workers 2] [--seed 8] [--postgres URL]

`make fuzz` runs it, and CI after the PostgreSQL test run. It sets up everything it uses and removes it afterwards:

1. a database of its own (compliance_fuzz_<pid>) on the PostgreSQL at --postgres (default FUZZ_POSTGRES_URL or
   postgres://postgres@127.0.0.1:5432/postgres), migrated, with the Sochi demo;
2. a user in the admin group, and two tokens of theirs from `manage.py issue_token`: one read-write, one read-only;
3. the app as the Dockerfile runs it (gunicorn, 3 sync workers, psycopg's pool on) on a free port on 127.0.0.1, with
   DEBUG off and the rate limits raised out of the fuzzer's way;
4. `schemathesis run` over every operation of the schema the app serves, `--checks all`, twice: with the admin's
   read-write token (every phase: examples, coverage, fuzzing, stateful), then with the read-only token (fuzzing),
   which must read as the admin does and be refused (403) every write. Settings are in benchmarks/fuzz.toml; the
   refusals that no schema can explain are judged by benchmarks/fuzz_hooks.py.

It prints, per pass and in total, the operations tested, the cases generated and the failures and errors, and exits
1 if there is any. gunicorn is stopped and the database dropped whatever happened (Ctrl-C and SIGTERM included);
gunicorn's log and Schemathesis' reports are kept when the run fails, in the folder it names.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SCHEMATHESIS = str(Path(PYTHON).with_name("schemathesis"))
CONFIG = ROOT / "benchmarks" / "fuzz.toml"
HOOKS = ROOT / "benchmarks" / "fuzz_hooks.py"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
# High enough that no pass is ever throttled (a 429 is documented, but it would stop the fuzzer reaching the views).
UNTHROTTLED = "1000000/min"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class Database:
    """A database of this run's own on an existing PostgreSQL server, dropped afterwards."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.name = f"compliance_fuzz_{os.getpid()}"
        self.url = with_database(server_url, self.name)
        self.created = False

    def _admin(self):
        return psycopg.connect(self.server_url, autocommit=True, connect_timeout=5)

    def create(self) -> None:
        with self._admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
        self.created = True

    def drop(self) -> None:
        if not self.created:
            return
        with self._admin() as connection:
            # FORCE: a connection gunicorn's pool left behind must not keep the database alive.
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))
        self.created = False


def app_environment(database_url: str) -> dict:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DB_", "DATABASE_", "API_THROTTLE_", "SECURE_", "DJANGO_"))
    }
    return {
        **environment,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "DJANGO_ENV": "development",
        "STATIC_MANIFEST": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "API_THROTTLE_ANON": UNTHROTTLED,
        "API_THROTTLE_USER": UNTHROTTLED,
        "API_THROTTLE_WRITE": UNTHROTTLED,
    }


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result.stdout


CREATE_ADMIN = """
from django.contrib.auth.models import Group, User
user = User.objects.create_user("fuzz-admin")
user.groups.add(Group.objects.get(name="admin"))
"""


def wait_until_ready(base: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"{base}/readyz", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{base}/readyz did not answer 200 within {seconds:.0f} s")


def schemathesis_pass(label: str, base: str, key: str, args, folder: Path, *, read_only: bool = False) -> dict:
    """One `schemathesis run`; returns the figures of its JSON report."""
    report = folder / f"{label}.json"
    # The read-only pass only has to show that this token reads as the admin's does and writes nothing: generated
    # cases for every operation do that, and the coverage phase's edge cases (the bulk of the time) were the first
    # pass's. No write goes through, so there is no sequence of calls for the stateful phase to follow either.
    phases = "fuzzing" if read_only else "examples,coverage,fuzzing,stateful"
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/api/schema/?format=json",
        "--url",
        base,
        "--header",
        f"Authorization: Token {key}",
        "--checks",
        "all",
        "--max-examples",
        str(args.max_examples),
        "--workers",
        str(args.workers),
        "--seed",
        str(args.seed),
        "--phases",
        phases,
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "--no-color",
    ]
    shown = ["Authorization: Token …" if part.startswith("Authorization:") else part for part in command]
    log(f"pass '{label}': {' '.join(shown)}")
    started = time.monotonic()
    # Run from the scratch folder: Schemathesis keeps its caches in the working directory.
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "FUZZ_READ_ONLY_TOKEN": "1" if read_only else ""}
    result = subprocess.run(command, cwd=folder, env=env, check=False)
    elapsed = time.monotonic() - started
    if not report.exists():
        return {"label": label, "exit_code": result.returncode, "duration_s": round(elapsed, 1), "no_report": True}
    data = json.loads(report.read_text())
    return {
        "label": label,
        "exit_code": result.returncode,
        "duration_s": round(elapsed, 1),
        "operations_tested": data["operations"]["tested"],
        "operations_total": data["operations"]["total"],
        "cases_generated": data["test_cases"]["generated"],
        "unique_failures": data["test_cases"]["unique_failures"],
        "errors": len(data.get("errors") or []),
        "failures_by_code": {failure["code"]: failure["count"] for failure in data.get("failures") or []},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=25, help="per operation and phase (default 25)")
    parser.add_argument("--workers", type=int, default=2, help="Schemathesis workers (default 2)")
    parser.add_argument(
        "--seed",
        type=int,
        default=8,
        help="Schemathesis' seed (default 8); it fixes what is generated, while the records the run writes may "
        "still differ with the workers' timing",
    )
    parser.add_argument("--postgres", default=os.environ.get("FUZZ_POSTGRES_URL", DEFAULT_POSTGRES))
    args = parser.parse_args()

    # SIGTERM (a CI timeout, `kill`) unwinds through the `finally` below as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    database = Database(args.postgres)
    gunicorn = None
    passes: list[dict] = []
    ok = False
    try:
        database.create()
        log(f"database {database.name} created; migrating and loading the Sochi demo")
        env = app_environment(database.url)
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "load_sochi")
        manage(env, "shell", "-c", CREATE_ADMIN)
        # issue_token prints the key alone on its last line.
        admin_key = manage(env, "issue_token", "fuzz-admin", "--name", "fuzz").strip().splitlines()[-1]
        reader_key = manage(env, "issue_token", "fuzz-admin", "--read-only", "--name", "fuzz, read-only")
        reader_key = reader_key.strip().splitlines()[-1]

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # The Dockerfile's command, on loopback; no control socket, so it cannot clash with another gunicorn.
        command = [PYTHON, "-m", "gunicorn", "compliance.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        command += ["--workers", "3", "--access-logfile", str(folder / "access.log"), "--no-control-socket"]
        with (folder / "gunicorn.log").open("w") as output:
            gunicorn = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        wait_until_ready(base, 30)
        log(f"gunicorn (3 workers) at {base}; {args.max_examples} examples per operation, seed {args.seed}")

        passes.append(schemathesis_pass("admin", base, admin_key, args, folder))
        passes.append(schemathesis_pass("read-only", base, reader_key, args, folder, read_only=True))

        # A failure after the status line went out (a streamed export) is no 5xx for the checks to see; the log
        # has it. Django logs "<time> ERROR <logger> …", gunicorn "[…] [ERROR] …".
        server_errors = sum(
            1
            for line in (folder / "gunicorn.log").read_text().splitlines()
            if any(mark in line for mark in (" ERROR ", " CRITICAL ", "[ERROR]", "[CRITICAL]"))
        )
        total = {
            "operations": max(p.get("operations_tested", 0) for p in passes),
            "cases_generated": sum(p.get("cases_generated", 0) for p in passes),
            "failures": sum(p.get("unique_failures", 0) for p in passes),
            "errors": sum(p.get("errors", 0) for p in passes),
            "server_errors_logged": server_errors,
            "duration_s": round(time.monotonic() - started, 1),
        }
        print(json.dumps({"passes": passes, "total": total}, indent=2))
        for p in passes:
            print(
                f"{p['label']:>9}: {p.get('operations_tested', 0)}/{p.get('operations_total', 0)} operations, "
                f"{p.get('cases_generated', 0)} cases, {p.get('unique_failures', '?')} failures, "
                f"{p.get('errors', '?')} errors, {p['duration_s']} s"
            )
        print(
            f"{'total':>9}: {total['operations']} operations, {total['cases_generated']} cases, {total['failures']} "
            f"failures, {total['errors']} errors, {total['server_errors_logged']} server errors logged, "
            f"{total['duration_s']} s"
        )
        ok = all(p["exit_code"] == 0 and not p.get("no_report") for p in passes)
        ok = ok and not total["failures"] and not total["errors"] and not server_errors
        print("OK: no failure" if ok else f"FAILED (gunicorn's log and the reports are in {folder})", flush=True)
        return 0 if ok else 1
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.terminate()
            try:
                gunicorn.wait(15)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
                gunicorn.wait()
        database.drop()
        if ok or not any(folder.iterdir()):
            with contextlib.suppress(OSError):
                shutil.rmtree(folder)
        log("cleaned up: gunicorn stopped, database dropped")


if __name__ == "__main__":
    sys.exit(main())
