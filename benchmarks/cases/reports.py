"""Reports, compliance and statistics for a year, each against the database doing the same work on its own.

- stats actor × clause × week for a year: the API's answer ≤ 1.3× its GROUP BY query run raw;
- the compliance endpoint for a year ≤ 1.5× the SQL it needs (every query the request ran, replayed raw);
- the report's JSON for a year (the document and its annex, as issuing builds them) ≤ 1.5× its SQL replayed raw;
- a report for a year issued and rendered as PDF: < 30 s, and < 500 MB peak (Python heap, tracemalloc; the
  process's peak resident size is given in the note).

Floors are measured in the same run, turn about with the path (`side_by_side`), so both see the same cache and
load. "Replayed raw" means the SQL each query sent, as the database received it, run through a plain cursor and
every row fetched: the database's share of the work with no Python on top. Run alone from the repository's root:
`python -m benchmarks.cases.reports --violations 100000` (DATABASE_URL chooses the database; missing synthetic
violations are made first, as run.py does).
"""

from __future__ import annotations

import re
import resource
import time
import tracemalloc
from collections.abc import Iterable
from datetime import date

from benchmarks.common import Context, Line, side_by_side

YEAR = (date(2019, 1, 1), date(2019, 12, 31))
AGREEMENT = "sochi-2018"
STATS_URL = (
    "/api/v1/stats/violations?group_by=actor,clause,week&agreement=sochi-2018"
    "&occurred_after=2019-01-01&occurred_before=2019-12-31"
)
COMPLIANCE_URL = "/api/v1/agreements/sochi-2018/compliance?from=2019-01-01&to=2019-12-31"
DECLARE = re.compile(r"^DECLARE\s+\S+\s+.*?CURSOR\s+(WITH(OUT)?\s+HOLD\s+)?FOR\s+", re.IGNORECASE | re.DOTALL)
SKIPPED = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "SET ", "BEGIN", "COMMIT")


COPY_PREFIX = "COPY ("


def _captured(run) -> list[str]:
    """The SQL statements `run` sent, as the database received them, its COPYs included (psycopg's `copy()` is
    not seen by Django's query log, so the SELECT each COPY wraps is taken where it is built)."""
    from unittest import mock

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from agreements.exports import copy_sql

    copies: list[str] = []
    build = copy_sql.copy_select

    def recorded(*args, **kwargs):
        copies.append(build(*args, **kwargs))
        return copies[-1]

    with CaptureQueriesContext(connection) as captured, mock.patch.object(copy_sql, "copy_select", recorded):
        run()
    # A chunked read (`iterator()`) runs in a server-side cursor on PostgreSQL: its SELECT is what the work is.
    statements = [DECLARE.sub("", q["sql"]) for q in captured.captured_queries]
    statements = [sql for sql in statements if not sql.upper().startswith(SKIPPED)]
    return statements + [f"{COPY_PREFIX}{select}) TO STDOUT WITH (FORMAT csv)" for select in copies]


def _replay(statements: list[str]) -> None:
    """Every statement through a plain cursor, every row fetched (a COPY's rows read, with the export's settings)."""
    from django.db import connection, transaction

    from agreements.exports.copy_sql import configure

    with transaction.atomic(), connection.cursor() as cursor:
        for sql in statements:
            if sql.startswith(COPY_PREFIX):
                configure(cursor)
                with cursor.copy(sql) as copy:
                    for _ in copy:
                        pass
                continue
            cursor.execute(sql)
            if cursor.description is not None:
                cursor.fetchall()


def _stats_line(ctx: Context) -> Line:
    from django.db import connection

    from agreements.models import Violation
    from compliance.api.filters import ViolationFilter
    from reports.stats import parse_group_by, stats_queryset

    params = dict(part.split("=", 1) for part in STATS_URL.split("?", 1)[1].split("&"))
    queryset = ViolationFilter(params, queryset=Violation.objects.all()).qs.standing()
    sql, args = stats_queryset(queryset, parse_group_by(params["group_by"])).query.sql_with_params()

    def raw():
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            cursor.fetchall()

    ours, floor = side_by_side(lambda: _ok(ctx.get(STATS_URL)), raw, repeat=3 if ctx.quick else 5)
    return Line("stats actor×clause×week, a year", ours * 1000, "ms", "≤ 1.3× raw GROUP BY", ours <= 1.3 * floor,
                floor=floor * 1000)  # fmt: skip


def _ok(answer):
    response, body = answer
    assert response.status_code == 200, body[:300]
    return body


def _compliance_line(ctx: Context) -> Line:
    statements = _captured(lambda: _ok(ctx.get(COMPLIANCE_URL)))
    ours, floor = side_by_side(lambda: _ok(ctx.get(COMPLIANCE_URL)), lambda: _replay(statements), repeat=5)
    return Line("compliance endpoint, a year", ours * 1000, "ms", "≤ 1.5× its SQL replayed", ours <= 1.5 * floor,
                floor=floor * 1000, note=f"{len(statements)} queries")  # fmt: skip


def _report_json_line(ctx: Context) -> Line:
    from agreements.models import Agreement
    from reports.document import report_build
    from reports.issuing import canonical_json

    agreement = Agreement.objects.get(slug=AGREEMENT)

    def build():
        data, annex = report_build(agreement, start=YEAR[0], end=YEAR[1])
        annex.file.close()
        return canonical_json(data)

    statements = _captured(build)
    size = len(build().encode("utf-8"))
    ours, floor = side_by_side(build, lambda: _replay(statements), repeat=2 if ctx.quick else 3)
    return Line("report JSON (document + annex), a year", ours * 1000, "ms", "≤ 1.5× its SQL replayed",
                ours <= 1.5 * floor, floor=floor * 1000,
                note=f"{len(statements)} queries, document {size / 1024:.0f} KiB")  # fmt: skip


def _issue_and_render(user) -> tuple[object, bytes]:
    """Issue the year's report (the document, its annex written and stored) and render it as PDF."""
    from agreements.models import Agreement
    from reports import rendering
    from reports.issuing import report_get_or_issue
    from reports.models import Report

    # The benchmark's own earlier reports go, so that the report is issued (and its annex written) every run.
    Report.objects.filter(issued_by=user).delete()
    agreement = Agreement.objects.get(slug=AGREEMENT)
    report, _ = report_get_or_issue(agreement=agreement, start=YEAR[0], end=YEAR[1], user=user)
    return report, rendering.render(Report.objects.get(pk=report.pk), "pdf").content


def _report_pdf_line(ctx: Context) -> Iterable[Line]:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-issuer")
    start = time.perf_counter()
    report, pdf = _issue_and_render(user)
    seconds = time.perf_counter() - start
    # Memory in a second run: tracemalloc slows Python several times, so it is kept out of the timing.
    tracemalloc.start()
    _issue_and_render(user)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    note = f"{len(pdf) / 1024:.0f} KiB PDF, {report.frozen_data['annex']['rows']} annex rows"
    yield Line("report PDF, a year: issue + render", seconds, "s", "< 30 s", seconds < 30, note=note)
    yield Line("report PDF, a year: peak Python heap", peak, "MiB", "< 500 MB", peak * 2**20 < 500e6,
               note=f"whole process's peak RSS so far {rss:.0f} MiB")  # fmt: skip


def cases(ctx: Context) -> Iterable[Line]:
    yield _stats_line(ctx)
    yield _compliance_line(ctx)
    yield _report_json_line(ctx)
    yield from _report_pdf_line(ctx)


def main() -> None:
    import argparse

    from benchmarks.run import setup

    parser = argparse.ArgumentParser()
    parser.add_argument("--violations", type=int, default=10000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    key = setup(args.violations)
    from django.db import connection
    from django.test import Client

    ctx = Context(client=Client(), key=key, violations=args.violations, vendor=connection.vendor, quick=args.quick)
    print(f"engine={connection.vendor} violations={args.violations}")
    for line in cases(ctx):
        print(line.render(), flush=True)


if __name__ == "__main__":
    main()
