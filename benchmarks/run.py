"""API benchmarks: `make bench` (or `python benchmarks/run.py --violations 20000`). Prints its figures.

Runs against the database in DATABASE_URL (default: a scratch SQLite file in /tmp), with the Sochi demo plus N
synthetic violations, through Django's full request stack in-process (no network). Memory is the Python heap's
peak (tracemalloc) while the response body is produced, which is what grows if an export holds rows in memory.
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

    from agreements.models import Violation
    from compliance.tokens import token_issue

    call_command("migrate", verbosity=0)
    call_command("load_sochi", stdout=open(os.devnull, "w"))  # noqa: SIM115
    missing = violations - Violation.objects.count()
    if missing > 0:
        call_command("generate_synthetic", violations=missing, seed=violations, stdout=open(os.devnull, "w"))  # noqa: SIM115
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--violations", type=int, default=int(os.environ.get("BENCH_VIOLATIONS", "20000")))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    key = setup(args.violations)

    from django.db import connection
    from django.test import Client

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
        if name == "csv, every row":
            rate = total / (result["median_ms"] / 1000)
            print(f"{'  csv throughput':24} {rate:>17,.0f} rows/s")


if __name__ == "__main__":
    main()
