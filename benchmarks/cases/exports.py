"""CSV exports against PostgreSQL's own `COPY (SELECT …) TO STDOUT` of the very SELECT the export streams, turn
about in the same run; the first byte; the server's memory while it streams every row."""

import resource
import statistics
import time

from django.db import connection, transaction

from benchmarks.common import Line

URL = "/api/v1/violations/?format=csv"


def raw_copy_seconds(select: str) -> float:
    from agreements.exports import copy_sql as exports_copy

    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        exports_copy.configure(cursor)
        with cursor.copy(f"COPY ({select}) TO STDOUT WITH (FORMAT csv)") as copy:
            for _ in copy:
                pass
    return time.perf_counter() - start


def export_seconds(ctx, url: str) -> tuple[float, float]:
    """Seconds to the whole body and to its first byte."""
    start = time.perf_counter()
    response = ctx.client.get(url, HTTP_AUTHORIZATION=f"Token {ctx.key}")
    assert response.status_code == 200, response.status_code
    first = None
    for _ in response.streaming_content:
        if first is None:
            first = time.perf_counter() - start
    return time.perf_counter() - start, first


def versus_copy(ctx, name: str, url: str, columns, repeat: int):
    from agreements.exports import copy_sql as exports_copy
    from agreements.models import Violation

    queryset = Violation.objects.standing()
    rows = queryset.count()
    select = exports_copy.copy_select(queryset, columns)
    raw, ours, first = [], [], []
    for _ in range(repeat):  # turn about, so that a busy neighbour slows both alike
        raw.append(raw_copy_seconds(select))
        whole, first_byte = export_seconds(ctx, url)
        ours.append(whole)
        first.append(first_byte)
    raw_rate, our_rate = rows / statistics.median(raw), rows / statistics.median(ours)
    yield Line(f"{name}: rows/s vs COPY TO", our_rate, "rows/s", ">= 0.8x COPY", our_rate >= 0.8 * raw_rate, raw_rate)
    first_byte = statistics.median(first)
    yield Line(f"{name}: first byte", first_byte * 1000, "ms", "< 1000 ms", first_byte < 1)


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cases(ctx):
    from agreements import exports

    repeat = 3 if ctx.violations > 200_000 else 5
    yield from versus_copy(ctx, "csv ours", URL, exports.VIOLATION_COLUMNS, repeat)
    yield from versus_copy(ctx, "csv acled", URL + "&columns=acled", exports.ACLED_COLUMNS, max(1, repeat - 2))
    # The process's peak RSS after streaming every row; compared across sizes at the end (growth < 100 MB).
    ctx.extra["rss_after_csv"] = max_rss_mib()
    yield Line("csv: peak RSS after streaming every row", max_rss_mib(), "MiB", "see growth across sizes", True)
