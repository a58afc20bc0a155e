"""`make bench` (1M violations) and `make bench-quick` (100k): every path of the API against its floor.

PostgreSQL only (the floors are PostgreSQL's own: `json_agg`, `GROUP BY`, `COPY`). Each dataset is built once,
in a database of its own on the server of BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres),
named `compliance_bench_<n>`, and reused by later runs: the Sochi demo plus synthetic violations.

Each size runs in a process of its own (Django is set up once per database) through Django's full request stack
in-process; each case prints one line: PASS/FAIL, the figure, the floor measured in the same run, the ratio and the
target (benchmarks/common.py). Cases comparing sizes (the list at 1M against 10k) are printed at the end, then the
load test (benchmarks/load.py) against gunicorn on the big dataset. Exit status 1 when any line fails.
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = ("lists", "exports", "reports", "imports")
SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def database_url(violations: int) -> str:
    return SERVER.rsplit("/", 1)[0] + f"/compliance_bench_{violations}"


def ensure_database(violations: int) -> None:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as conn:
        name = f"compliance_bench_{violations}"
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup(violations: int) -> str:
    """Migrate, load the demo, top up the synthetic violations; a read-only analyst token for the requests."""
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection

    from agreements.models import Violation
    from compliance.tokens import token_issue

    call_command("migrate", verbosity=0)
    call_command("load_sochi", stdout=open(os.devnull, "w"))  # noqa: SIM115
    missing = violations - Violation.objects.count()
    if missing > 0:
        start = time.perf_counter()
        call_command("generate_synthetic", violations=missing, seed=violations, stdout=open(os.devnull, "w"))  # noqa: SIM115
        print(f"# generated {missing:,} violations in {time.perf_counter() - start:.0f} s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")  # what autovacuum would soon do: statistics, the visibility map
    user, _ = User.objects.get_or_create(username="bench-analyst")
    user.groups.add(Group.objects.get(name="analyst"))
    _, key = token_issue(user=user, name="bench", read_only=True)
    return key


def run_one(violations: int, quick: bool, only: list[str]) -> None:
    """In this process: one dataset, every case; each line printed, and also as JSON for the parent."""
    os.environ["DATABASE_URL"] = database_url(violations)
    key = setup(violations)
    from django.test import Client

    from benchmarks.common import Context

    ctx = Context(client=Client(), key=key, violations=violations, vendor="postgresql", quick=quick)
    for name in only:
        module = importlib.import_module(f"benchmarks.cases.{name}")
        if not hasattr(module, "cases"):
            continue
        for line in module.cases(ctx):
            print(line.render(), flush=True)
            print("#JSON " + json.dumps({**line.__dict__, "size": violations}), flush=True)


def run_size(violations: int, quick: bool, only: list[str]) -> list[dict]:
    ensure_database(violations)
    command = [sys.executable, __file__, "--one", str(violations), "--cases", ",".join(only)]
    if quick:
        command.append("--quick")
    print(f"\n## {violations:,} violations ({database_url(violations)})", flush=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    lines = []
    for text in process.stdout:
        if text.startswith("#JSON "):
            lines.append(json.loads(text[6:]))
        else:
            print(text, end="", flush=True)
    if process.wait():
        raise SystemExit(f"the {violations:,} run failed (exit {process.returncode})")
    return lines


def compare_sizes(small: list[dict], big: list[dict], sizes: tuple[int, int]):
    from benchmarks.common import Line

    def figure(lines, case):
        return next((line["figure"] for line in lines if line["case"] == case), None)

    page_small, page_big = figure(small, "list: page of 100 vs json_agg"), figure(big, "list: page of 100 vs json_agg")
    if page_small and page_big:
        name = f"list: page of 100 at {sizes[1]:,} vs {sizes[0]:,}"
        yield Line(name, page_big, "ms", "<= 1.5x", page_big <= 1.5 * page_small, page_small)
    rss = "csv: peak RSS after streaming every row"
    rss_small, rss_big = figure(small, rss), figure(big, rss)
    if rss_small and rss_big:
        growth = rss_big - rss_small
        name = f"csv: server RSS growth {sizes[0]:,} -> {sizes[1]:,}"
        yield Line(name, growth, "MiB", "< 100 MiB", growth < 100, note=f"{rss_small:.0f} -> {rss_big:.0f} MiB")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="100k violations instead of 1M (about 10 minutes)")
    parser.add_argument("--violations", type=int, help="the big dataset's size (default 1M, or 100k with --quick)")
    parser.add_argument("--small", type=int, default=10_000, help="the small dataset's size")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--no-load", action="store_true", help="skip the load test")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    only = [name for name in args.cases.split(",") if name]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "compliance.settings")
    os.environ.setdefault("SECRET_KEY", "benchmarks-only")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
    os.environ.setdefault("STATIC_MANIFEST", "0")
    os.environ["API_THROTTLE_USER"] = os.environ["API_THROTTLE_ANON"] = os.environ["API_THROTTLE_WRITE"] = ""
    # The floors are about building answers: cached answers are measured on their own line (cases/lists.py).
    os.environ["API_ANSWER_CACHE_MAX_BYTES"] = "0"
    os.environ["API_CSV_MAX_ROWS"] = "5000000"  # every row of the 1M dataset in one streamed CSV
    if args.one:
        run_one(args.one, args.quick, only)
        return
    big = args.violations or (100_000 if args.quick else 1_000_000)
    started = time.perf_counter()
    small_lines = run_size(args.small, args.quick, only)
    big_lines = run_size(big, args.quick, only)
    print(f"\n## {args.small:,} against {big:,}")
    across = list(compare_sizes(small_lines, big_lines, (args.small, big)))
    for line in across:
        print(line.render())
    failed = [line for line in small_lines + big_lines if not line["passed"]] + [x for x in across if not x.passed]
    if not args.no_load:
        from benchmarks import load

        print(f"\n## load: gunicorn on {big:,} violations")
        for line in load.cases(database_url(big)):
            print(line.render(), flush=True)
            failed += [] if line.passed else [line]
    print(f"\n# {len(failed)} line(s) failed; {time.perf_counter() - started:.0f} s in all")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
