"""What one violation save costs the database: a bounded number of statements, whatever the links."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements import services
from agreements.models import Violation
from tests.factories import ActorFactory, AgreementFactory, ClauseFactory, PlaceFactory, SourceFactory, UserFactory

SQUARE = {"type": "Polygon", "coordinates": [[[36, 35], [37, 35], [37, 36], [36, 36], [36, 35]]]}
MAX_STATEMENTS = 25


@pytest.fixture
def world(db):
    agreement = AgreementFactory()
    return {
        "agreement": agreement,
        "clauses": [ClauseFactory(agreement=agreement) for _ in range(2)],
        "actors": ActorFactory.create_batch(2),
        "place": PlaceFactory(latitude=Decimal("35.5"), longitude=Decimal("36.5")),
        "source": SourceFactory(),
        "monitor": UserFactory(role="monitor"),
    }


def record(world) -> Violation:
    return services.violation_create(
        user=world["monitor"],
        agreement=world["agreement"],
        category=Violation.Category.SHELLING,
        description="Shelling reported.",
        started_at=datetime(2019, 5, 6, 4, 0, tzinfo=UTC),
        place=world["place"],
        clauses=world["clauses"],
        perpetrators=world["actors"],
        sources=[world["source"]],
        killed_best=2,
    )


def statements(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries]


def test_recording_a_violation_with_its_links_and_a_source_costs_at_most_25_statements(world):
    record(world)  # the zone and content types are read once per process; the second save is the usual one
    with CaptureQueriesContext(connection) as captured:
        violation = record(world)

    assert violation.citations.count() == 1 and violation.perpetrators.count() == 2
    assert len(captured) <= MAX_STATEMENTS, "\n".join(sql[:120] for sql in statements(captured))
    # Django's own check of foreign keys given as loaded objects, and of a uuid we generate, would be one query each.
    assert not [sql for sql in statements(captured) if sql.startswith('SELECT 1 AS "a" FROM "agreements_agreement"')]


def test_editing_a_violation_costs_at_most_25_statements(world):
    violation = record(world)
    with CaptureQueriesContext(connection) as captured:
        services.violation_update(
            violation=violation,
            user=world["monitor"],
            expected_version=violation.version,
            description="Shelling, two rounds.",
            perpetrators=world["actors"][:1],
        )

    violation.refresh_from_db()
    assert violation.version == 2 and violation.perpetrators.count() == 1
    assert len(captured) <= MAX_STATEMENTS, "\n".join(sql[:120] for sql in statements(captured))


def test_a_failed_nested_step_undoes_the_whole_save(world):
    before = Violation.objects.count()
    with pytest.raises(Exception):  # noqa: B017 — any refusal: what matters is that nothing stays
        services.violation_create(
            user=world["monitor"],
            agreement=world["agreement"],
            category=Violation.Category.SHELLING,
            description="Shelling reported.",
            started_at=datetime(2019, 5, 6, 4, 0, tzinfo=UTC),
            place=world["place"],
            clauses=[ClauseFactory()],  # a clause of another agreement: refused after the violation is inserted
        )

    assert Violation.objects.count() == before
    assert Violation.history.count() == Violation.objects.count()
