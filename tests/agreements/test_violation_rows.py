"""The list's fast rows (values, not serializers) are the serializer's rows: same fields, formats, order, bytes."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

from agreements import services
from agreements.api.violation_rows import PAGE_FIELDS, sql_rows, violation_rows
from agreements.api.violation_serializers import ViolationSerializer
from agreements.api.violations import ViolationViewSet
from agreements.models import Violation
from compliance.api.renderers import ORJSONRenderer
from tests.api_helpers import Api
from tests.factories import (
    ActorFactory,
    AgreementFactory,
    ClauseFactory,
    PlaceFactory,
    SourceFactory,
    UserFactory,
    ZoneFactory,
    make_violation,
)

SQUARE = {"type": "Polygon", "coordinates": [[[36, 35], [37, 35], [37, 36], [36, 36], [36, 35]]]}


@pytest.fixture
def api(db):
    return Api()


@pytest.fixture
def varied(db):
    """Violations with every shape a row can take: links in several orders, a retired citation, coordinates
    without a place, a zone, a verification, a retraction, microseconds, decimals, empty and full counts."""
    monitor, reviewer = UserFactory(role="monitor"), UserFactory(role="reviewer")
    agreement = AgreementFactory()
    ZoneFactory(agreement=agreement, geometry=SQUARE)
    clauses = [ClauseFactory(agreement=agreement, number=n, position=p) for n, p in (("6", 1), ("5", 2), ("2a", 3))]
    actors = [ActorFactory(name=name) for name in ("Zeta Brigade", "Army of Glory", "Ṣaqr Division")]
    place = PlaceFactory(name="Kafr Nabl", admin1="Idlib", latitude=Decimal("35.5"), longitude=Decimal("36.5"))
    start = datetime(2019, 5, 6, 4, 0, tzinfo=UTC)
    rows = []
    for i in range(12):
        fields = {"started_at": start + timedelta(hours=i, microseconds=7 * i)}
        if i % 3 == 0:
            fields.update(latitude=Decimal("35.123456"), longitude=Decimal("36.654321"), place=None)
        else:
            fields["place"] = place
        if i % 4 == 1:
            fields.update(killed_low=1, killed_best=2, killed_high=5, civilians_killed_best=1, ended_at=None)
        violation = make_violation(
            user=monitor,
            agreement=agreement,
            clauses=clauses[: 1 + i % 3][::-1],
            perpetrators=actors[i % 3 :],
            sources=[SourceFactory(), SourceFactory(published_on=None)][: 1 + i % 2],
            description=f'Incident «{i}» — "shelling"\n\tat dawn \\ {chr(0x2028)}',
            **fields,
        )
        if i % 5 == 2:
            violation.affected_actors.add(actors[0])
        rows.append(violation)
    services.violation_verify(violation=rows[2], user=reviewer, note="Checked.")
    services.violation_retract(violation=rows[3], user=reviewer, reason="Duplicate of another report.")
    assert rows[5].citations.count() == 2
    services.citation_remove(citation=rows[5].citations.first(), user=reviewer, reason="Wrong incident.")
    return rows


def serializer_rows(queryset) -> list[dict]:
    return ViolationSerializer(ViolationViewSet.with_relations(queryset), many=True).data


@pytest.mark.parametrize("ordering", [["-started_at", "-id"], ["killed_best", "id"], ["-updated_at", "-id"]])
def test_fast_rows_render_the_same_bytes_as_the_serializer(varied, ordering):
    queryset = Violation.objects.order_by(*ordering)

    fast = violation_rows(list(queryset.values(*PAGE_FIELDS)))
    plain = serializer_rows(queryset)

    assert len(fast) == len(plain) == Violation.objects.count()
    expected = JSONRenderer().render(plain)
    assert JSONRenderer().render(fast) == expected
    assert ORJSONRenderer().render(fast) == expected
    if connection.vendor == "postgresql":
        built = sql_rows(list(queryset.values_list("id", flat=True)))
        assert ORJSONRenderer().render(built) == expected


def test_the_list_answers_the_serializer_rows_in_constant_queries_whatever_the_page_size(api, varied):
    client = api.client("analyst")
    client.get("/api/v1/violations/")  # the token's first use is recorded once

    counts = {}
    for size in (2, 5, 12):
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/v1/violations/", {"page_size": size})
        assert response.status_code == 200
        counts[size] = len(captured)
        expected = serializer_rows(Violation.objects.standing().order_by("-started_at", "-id")[:size])
        assert response.json()["results"] == json.loads(JSONRenderer().render(expected))

    assert len(set(counts.values())) == 1, counts
    on_records = [q for q in captured.captured_queries if "agreements_" in q["sql"]]
    assert len(on_records) == (2 if connection.vendor == "postgresql" else 5), [q["sql"][:120] for q in on_records]
