"""The bulk import (agreements/importing/bulk.py) writes what the one-row service path writes: the same violations,
links, citations, sources and history rows, field by field (ids and timestamps aside, which must differ), on
whichever engine the suite runs (SQLite by default, PostgreSQL with DATABASE_URL)."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction

from agreements.exports import VIOLATION_COLUMNS, iter_csv
from agreements.importing import BULK, ONE_BY_ONE, import_violations
from agreements.models import Agreement, Source, Violation, ViolationSource
from tests.factories import UserFactory

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
DATA = Path(__file__).resolve().parent.parent / "data"
AGREEMENT = "sochi-2018"
# Bookkeeping that differs between any two writes of the same facts.
NOT_COMPARED = {"id", "uuid", "created_at", "updated_at", "history_id", "history_date", "history_user_id"}


@pytest.fixture(scope="module")
def sochi_loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_sochi", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def demo(sochi_loaded, db):
    return Agreement.objects.get(slug=AGREEMENT)


@pytest.fixture
def monitor(db):
    user = UserFactory(username="monitor-bulk", is_staff=True)
    user.groups.add(Group.objects.get(name="monitor"))
    return user


def acled_file() -> bytes:
    """The good ACLED file twice over, the second copy with clauses and a source URL: sources are found again
    within the file (same publisher and day) and across batches."""
    with (DATA / "acled_sochi_good.csv").open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    header = [*header, "clauses", "source_url"]
    first = [[*row, "", ""] for row in rows]
    source = header.index("source")
    # One URL names one publisher's report: rows with several publishers keep theirs without one.
    second = [
        [*row, "1; 3", "" if ";" in row[source] else f"https://example.org/report/{n}"] for n, row in enumerate(rows)
    ]
    out = io.StringIO()
    csv.writer(out).writerows([header, *first, *second])
    return out.getvalue().encode("utf-8")


def our_file(agreement) -> bytes:
    """The demo's own violations exported in our columns, public ids cleared (an import only adds)."""
    text = "".join(
        iter_csv(Violation.objects.filter(agreement=agreement).order_by("started_at", "id"), VIOLATION_COLUMNS)
    )
    header, *rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    uuid_column = header.index("uuid")
    for row in rows:
        row[uuid_column] = ""
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return out.getvalue().encode("utf-8")


def _fields(row, skip=NOT_COMPARED) -> dict:
    return {
        field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields if field.attname not in skip
    }


def _source(source_id) -> tuple:
    source = Source.all_objects.get(pk=source_id)
    return (source.publisher, source.title, source.url)


def _history_links(entry) -> dict:
    links = {}
    for field in type(entry)._history_m2m_fields:
        accessor = getattr(entry, field.name)
        column = f"{field.m2m_reverse_field_name()}_id"
        links[field.name] = sorted(getattr(row, column) for row in accessor.all())
    return links


def snapshot(ids: list[int], user) -> list[dict]:
    """Everything written for these violations, in file order, ids replaced by what they name."""
    states = []
    for violation in Violation.objects.filter(pk__in=ids).order_by("id"):
        citations = ViolationSource.all_objects.filter(violation=violation).order_by("source__title", "source__url")
        history = violation.history.order_by("history_date", "history_id")
        states.append(
            {
                "violation": _fields(violation),
                "clauses": sorted(violation.clauses.values_list("number", flat=True)),
                "perpetrators": sorted(violation.perpetrators.values_list("slug", flat=True)),
                "affected": sorted(violation.affected_actors.values_list("slug", flat=True)),
                "citations": [
                    (_source(c.source_id), _fields(c, NOT_COMPARED | {"violation_id", "source_id"})) for c in citations
                ],
                "citation history": [
                    (entry.history_type, entry.history_user_id == user.pk, _source(entry.source_id), entry.note)
                    for c in citations
                    for entry in c.history.all()
                ],
                "history": [
                    (
                        entry.history_type,
                        entry.history_user_id == user.pk,
                        entry.history_change_reason,
                        _fields(entry, NOT_COMPARED | {"history_change_reason", "history_type"}),
                        _history_links(entry),
                    )
                    for entry in history
                ],
            }
        )
    return states


def sources_written(before: set[int], user) -> list[tuple]:
    new = Source.all_objects.exclude(pk__in=before).order_by("publisher", "title", "url")
    return [
        (_fields(source), [(h.history_type, h.history_user_id == user.pk) for h in source.history.all()])
        for source in new
    ]


def imported(file: bytes, agreement, user, method: str) -> tuple[list[dict], list[tuple], list[str]]:
    """What an import by `method` writes, read back, then rolled back (so both methods start from the same data)."""
    sources_before = set(Source.all_objects.values_list("pk", flat=True))
    with transaction.atomic():
        report = import_violations(
            file=file, agreement=agreement, user=user, dry_run=False, method=method, batch_size=3
        )
        assert report.committed, report.all_errors()
        ids = list(
            Violation.objects.filter(uuid__in=[r.violation_uuid for r in report.rows]).values_list("pk", flat=True)
        )
        assert len(ids) == len(report.rows)
        written = snapshot(ids, user), sources_written(sources_before, user)
        # A duplicate hint names the other violation by its public id: the file's own are named by their row.
        names = {str(row.violation_uuid): f"row {row.number}" for row in report.rows}
        warnings = [
            f"{row.number}: {UUID.sub(lambda m: names.get(m[0], m[0]), w)} / {row.new_sources} {row.reused_sources}"
            for row in report.rows
            for w in row.warnings
        ]
        transaction.set_rollback(True)
    return *written, warnings


@pytest.mark.parametrize("layout", ["acled", "ours"])
def test_the_bulk_import_writes_what_the_services_write(demo, monitor, layout):
    file = acled_file() if layout == "acled" else our_file(demo)

    by_services = imported(file, demo, monitor, ONE_BY_ONE)
    in_bulk = imported(file, demo, monitor, BULK)

    violations, sources, warnings = by_services
    assert len(violations) >= 5
    assert any(v["clauses"] for v in violations) and any(v["citations"] for v in violations)
    assert all(len(v["history"]) == 1 for v in violations)  # one entry per save, its links in it
    if layout == "acled":
        assert sources  # new sources, found again by later rows
    assert in_bulk[0] == violations
    assert in_bulk[1] == sources
    assert in_bulk[2] == warnings


def test_a_row_the_database_refuses_is_named_as_the_services_name_it(demo, monitor):
    """A constraint only the database checks (here civilians killed above all killed) fails its batch; the batch
    is written again row by row and the row's error is the services' message."""
    header = "started_at,category,description,place,clauses,killed_best,civilians_killed_best"
    good = "2019-05-28,shelling,Shelled.,Kafr Nabouda,1,3,2"
    rows = [header, good, good.replace("Shelled.", "Shelled again."), good.replace(",3,2", ",1,3")]
    report = import_violations(
        file="\n".join(rows).encode(), agreement=demo, user=monitor, dry_run=False, method=BULK, batch_size=2
    )
    assert not report.committed
    assert [row.number for row in report.error_rows] == [4]
    assert report.error_rows[0].errors == [
        "civilians_killed_best: Civilians killed (best) cannot exceed all killed (best)."
    ]
    assert Violation.objects.filter(description__startswith="Shelled").count() == 0


def test_synthetic_data_goes_through_the_bulk_writer_with_history_and_zones(demo, monitor):
    from agreements import services, synthetic

    made = synthetic.generate(agreement=demo, count=30, seed=5, user=monitor, batch=7)

    rows = list(Violation.objects.filter(description__startswith="Synthetic incident").select_related("place"))
    assert made == len(rows) == 30
    for violation in rows:
        stored = (violation.in_zone, violation.zone_id)
        services.violation_locate(violation)  # the geography service, asked afresh
        assert (violation.in_zone, violation.zone_id) == stored
        created = violation.history.get(history_type="+")
        assert created.history_user_id == monitor.pk
        assert violation.clauses.count() == 1 and violation.citations.count() == 1
        assert violation.history.count() == 1  # one entry for the save, its links in it
        assert created.clauses.count() == 1 and created.perpetrators.count() == violation.perpetrators.count()
