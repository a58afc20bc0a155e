"""API benchmarks: `make bench` (or `python benchmarks/run.py --violations 20000`). Prints its figures.

Runs against the database in DATABASE_URL (default: a scratch SQLite file in /tmp), with the Sochi demo plus N
synthetic violations, through Django's full request stack in-process (no network). Memory is the Python heap's
peak (tracemalloc) while the response body is produced, which is what grows if an export holds rows in memory.

On PostgreSQL the CSV exports are also compared with the database's own speed: a raw `COPY (SELECT …) TO STDOUT`
of the very SELECT the export streams, read and thrown away, measured in the same run, turn about with the export
(without tracemalloc, which slows Python down). Targets: the export at ≥ 0.8× the raw COPY's rows per second, and
its first byte in < 1 s (the first row is printed too).
"""

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "compliance.settings")
os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/compliance-bench.sqlite3")
os.environ.setdefault("SECRET_KEY", "benchmarks-only")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("STATIC_MANIFEST", "0")


def setup(violations: int):
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
        call_command("generate_synthetic", violations=missing, seed=violations, stdout=open(os.devnull, "w"))  # noqa: SIM115
    if connection.vendor == "postgresql":
        # What autovacuum would do to freshly loaded rows before long: planner statistics, the visibility map.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
    user, _ = User.objects.get_or_create(username="bench-analyst")
    user.groups.add(Group.objects.get(name="analyst"))
    _, key = token_issue(user=user, name="bench", read_only=True)
    return key


def measure(client, key, url, repeat, headers=None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, status, size, queries, peak = [], None, 0, 0, 0
    for i in range(repeat):
        tracemalloc.start()
        start = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, HTTP_AUTHORIZATION=f"Token {key}", **(headers or {}))
            body = b"".join(response.streaming_content) if response.streaming else response.content
        times.append(time.perf_counter() - start)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        status, size, queries = response.status_code, len(body), len(captured)
        if i == 0:
            etag = response.get("ETag")
    return {
        "url": url,
        "status": status,
        "median_ms": statistics.median(times) * 1000,
        "max_ms": max(times) * 1000,
        "bytes": size,
        "queries": queries,
        "peak_mib": peak / 2**20,
        "etag": etag,
    }


def first_chunks(client, key, url):
    """Seconds to the first byte of the body and to the first chunk past the header (the first row)."""
    start = time.perf_counter()
    response = client.get(url, HTTP_AUTHORIZATION=f"Token {key}")
    chunks = iter(response.streaming_content)
    first_byte = time.perf_counter() - start
    header = next(chunks)
    if header.endswith(b"\r\n"):  # the chunk was the header alone: the first row is the next one
        next(chunks, None)
    first_row = time.perf_counter() - start
    for _ in chunks:  # read to the end, so that the response (and the database's COPY) close normally
        pass
    return first_byte, first_row


def raw_copy_seconds(select):
    """Seconds for PostgreSQL to run `select` as the export does (its transaction and settings) and send it all."""
    from django.db import connection, transaction

    from agreements.exports import copy_sql

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        copy_sql.configure(cursor)
        with cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)") as copy:
            for _ in copy:
                pass
    return time.perf_counter() - start


def csv_versus_copy(client, key, url, columns, rows, repeat):
    from agreements.exports import copy_sql
    from agreements.models import Violation

    # The queryset the view exports for `url` (no filters): live rows in the default order.
    queryset = Violation.objects.filter(retracted_at__isnull=True)
    assert copy_sql.supports(queryset, columns)
    select = copy_sql.copy_select(queryset, columns)
    raw, export = [], []
    for _ in range(repeat):  # turn about, so that a busy neighbour slows both alike
        raw.append(raw_copy_seconds(select))
        start = time.perf_counter()
        response = client.get(url, HTTP_AUTHORIZATION=f"Token {key}")
        for _ in response.streaming_content:
            pass
        export.append(time.perf_counter() - start)
    raw_rate, export_rate = rows / statistics.median(raw), rows / statistics.median(export)
    ratio = export_rate / raw_rate
    samples = [first_chunks(client, key, url) for _ in range(repeat)]
    first_byte = statistics.median(sample[0] for sample in samples)
    first_row = statistics.median(sample[1] for sample in samples)
    print(f"{'  export (no tracemalloc)':24} {export_rate:>17,.0f} rows/s")
    print(f"{'  raw COPY, same SELECT':24} {raw_rate:>17,.0f} rows/s")
    print(f"{'  export / raw COPY':24} {ratio:>17.2f}×      target ≥ 0.8×  {'PASS' if ratio >= 0.8 else 'FAIL'}")
    print(
        f"{'  first byte / row':24} {first_byte * 1000:>10.0f} / {first_row * 1000:.0f} ms  target < 1 s   "
        f"{'PASS' if first_byte < 1 else 'FAIL'}"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--violations", type=int, default=int(os.environ.get("BENCH_VIOLATIONS", "20000")))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    key = setup(args.violations)

    from django.db import connection
    from django.test import Client

    from agreements import exports
    from agreements.models import Violation

    client = Client()
    total = Violation.objects.filter(retracted_at__isnull=True).count()
    print(f"engine={connection.vendor} violations={total} repeat={args.repeat}")
    cases = [
        ("list, first page (50)", "/api/v1/violations/", args.repeat),
        ("list, page of 500", "/api/v1/violations/?page_size=500", args.repeat),
        ("list, filtered", "/api/v1/violations/?category=shelling&occurred_after=2019-06-01&in_zone=true", args.repeat),
        ("list, bbox", "/api/v1/violations/?bbox=36.4,35.3,36.7,35.5", args.repeat),
        ("stats actor×week", "/api/v1/stats/violations?group_by=actor,week", args.repeat),
        ("stats clause×month", "/api/v1/stats/violations?group_by=clause,month", args.repeat),
        ("geojson, filtered", "/api/v1/violations/?format=geojson&category=airstrike", 3),
        ("geojson, every row", "/api/v1/violations/?format=geojson", 1),  # 400 past API_GEOJSON_MAX_ROWS
        ("csv, every row", "/api/v1/violations/?format=csv", 3),
        ("csv acled, every row", "/api/v1/violations/?format=csv&columns=acled", 1),
        ("xlsx, shelling", "/api/v1/violations/?format=xlsx&category=shelling", 1),
    ]
    print(f"{'case':24} {'status':>6} {'median ms':>10} {'max ms':>9} {'queries':>8} {'MiB peak':>9} {'bytes':>11}")
    for name, url, repeat in cases:
        result = measure(client, key, url, repeat)
        print(
            f"{name:24} {result['status']:>6} {result['median_ms']:>10.1f} {result['max_ms']:>9.1f} "
            f"{result['queries']:>8} {result['peak_mib']:>9.1f} {result['bytes']:>11,}"
        )
        if name.startswith("stats actor"):
            conditional = measure(client, key, url, args.repeat, {"HTTP_IF_NONE_MATCH": result["etag"]})
            print(
                f"{'  same, If-None-Match':24} {conditional['status']:>6} {conditional['median_ms']:>10.1f} "
                f"{conditional['max_ms']:>9.1f} {conditional['queries']:>8} {conditional['peak_mib']:>9.1f} "
                f"{conditional['bytes']:>11,}"
            )
        if name == "geojson, filtered" and result["status"] == 200:
            # Without tracemalloc, which slows this Python-bound path several times: the rate API_GEOJSON_MAX_ROWS is
            # set from.
            rows = Violation.objects.filter(retracted_at__isnull=True, category="airstrike").count()
            start = time.perf_counter()
            for _ in client.get(url, HTTP_AUTHORIZATION=f"Token {key}").streaming_content:
                pass
            print(f"{'  geojson (no tracemalloc)':24} {rows / (time.perf_counter() - start):>17,.0f} rows/s")
        if name.startswith("csv"):
            rate = total / (result["median_ms"] / 1000)
            print(f"{'  csv throughput':24} {rate:>17,.0f} rows/s")
            if connection.vendor == "postgresql":
                columns = exports.ACLED_COLUMNS if "acled" in name else exports.VIOLATION_COLUMNS
                csv_versus_copy(client, key, url, columns, total, max(repeat, 3))


if __name__ == "__main__":
    main()
