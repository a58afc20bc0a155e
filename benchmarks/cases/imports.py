"""Import of ACLED-style rows with full validation against `COPY … FROM STDIN` of the same rows into a scratch
table, in the same run (PostgreSQL only). Target: our rows/s ≥ 0.10× COPY's.

The file is written from synthetic rows in the Sochi demo's vocabulary (actors, places, clauses, publishers), so
every row is matched, located and validated as a real one is. The import runs inside a transaction this case rolls
back, and the scratch table is temporary: the dataset is left as it was.
"""

from __future__ import annotations

import csv
import io
import random
import time
from collections.abc import Iterable

from benchmarks.common import Context, Line

TARGET_RATIO = 0.10
HEADER = [
    "event_date",
    "event_type",
    "sub_event_type",
    "actor1",
    "actor2",
    "admin1",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "notes",
    "fatalities",
    "clauses",
]


class _Rollback(Exception):
    """Raised to leave the import's transaction without keeping anything."""


def acled_rows(count: int, seed: int = 9) -> list[list[str]]:
    from agreements import acled
    from agreements.models import Actor, Clause, Place

    rng = random.Random(seed)
    actors = list(Actor.objects.exclude(kind=Actor.Kind.UNKNOWN).values_list("name", flat=True))
    places = list(Place.objects.filter(kind=Place.Kind.SETTLEMENT))
    clauses = list(Clause.objects.filter(agreement__slug="sochi-2018").values_list("number", flat=True))
    event_types = list(acled.ACLED_EVENT_TYPES.values())
    rows = []
    for i in range(count):
        place = rng.choice(places)
        event_type, sub_event_type = rng.choice(event_types)
        rows.append(
            [
                f"2019-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                event_type,
                sub_event_type,
                rng.choice(actors),
                rng.choice(actors),
                place.admin1,
                place.name,
                str(place.latitude),
                str(place.longitude),
                "1",
                rng.choice(["SOHR", "Syria Call", "Enab Baladi"]),
                f"Benchmark incident {i} at {place.name}.",
                str(rng.choice([0, 0, 1, 2, 5])),
                rng.choice(clauses),
            ]
        )
    return rows


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([HEADER, *rows])
    return out.getvalue().encode("utf-8")


def _import_seconds(data: bytes, rows: int) -> float:
    from django.contrib.auth.models import Group, User
    from django.db import transaction

    from agreements.importing import import_violations

    start = time.perf_counter()
    try:
        with transaction.atomic():
            user, _ = User.objects.get_or_create(username="bench-importer")
            user.groups.add(Group.objects.get(name="monitor"))
            report = import_violations(file=data, agreement="sochi-2018", user=user, dry_run=False)
            if not report.committed or report.violation_count != rows:
                raise RuntimeError("The benchmark file did not import: " + "; ".join(report.all_errors()[:5]))
            elapsed = time.perf_counter() - start
            raise _Rollback
    except _Rollback:
        return elapsed


def _copy_seconds(data: bytes) -> float:
    from django.db import connection, transaction

    columns = ", ".join(f"{name} text" for name in HEADER)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE bench_import_copy ({columns}) ON COMMIT DROP")
        start = time.perf_counter()
        with cursor.copy("COPY bench_import_copy FROM STDIN (FORMAT csv, HEADER true)") as copy:
            copy.write(data)
        return time.perf_counter() - start


def cases(ctx: Context) -> Iterable[Line]:
    rows = 10_000 if ctx.quick else 100_000
    name = f"import {rows // 1000}k ACLED rows, full validation"
    if ctx.vendor != "postgresql":
        yield Line(name, 0, "rows/s", f">= {TARGET_RATIO:.2f}x COPY FROM", False, note="PostgreSQL only")
        return
    data = _csv(acled_rows(rows))
    copy = _copy_seconds(data)
    ours = _import_seconds(data, rows)
    copy = min(copy, _copy_seconds(data))  # measured again after ours, so both saw the same cache
    figure, floor = rows / ours, rows / copy
    yield Line(
        name,
        figure,
        "rows/s",
        f">= {TARGET_RATIO:.2f}x COPY FROM",
        figure / floor >= TARGET_RATIO,
        floor=floor,
        note="" if figure / floor >= TARGET_RATIO else "bounded by per-row validation in Python",
    )


if __name__ == "__main__":
    import os
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "compliance.settings")
    import django

    django.setup()
    from django.db import connection

    quick = "--quick" in sys.argv
    for line in cases(Context(client=None, key="", violations=0, vendor=connection.vendor, quick=quick)):
        print(line.render())
