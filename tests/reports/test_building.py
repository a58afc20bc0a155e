"""Building a report's frozen data from the record, and issuing it: what it holds, and that it never changes."""

import csv
import hashlib
import io
import json
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from agreements import services
from agreements.models import Actor, Clause, ControlChange, Patrol, RouteStatus, Violation
from reports import rendering
from reports.document import period_label, report_build, report_data
from reports.issuing import canonical_json, content_hash, report_get_or_issue, report_issue
from reports.models import Report
from tests.api_helpers import count_queries
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

MAY = {"start": date(2019, 5, 1), "end": date(2019, 5, 31)}


def at(day: int, month: int = 5) -> datetime:
    return datetime(2019, month, day, 6, 0, tzinfo=UTC)


class World:
    """An agreement with three clauses and a zone, an army with a unit, an armed group, and May's violations."""

    def __init__(self):
        self.reporter = UserFactory(username="reporter", role="monitor")
        self.reviewer = UserFactory(username="reviewer", is_superuser=True, is_staff=True)
        self.agreement = AgreementFactory(slug="memo", title="Memorandum on the Zone", short_title="Zone memorandum")
        self.army = ActorFactory(name="Army", slug="army")
        self.unit = ActorFactory(name="Tiger Unit", slug="tiger", kind=Actor.Kind.UNIT, part_of=self.army)
        self.group = ActorFactory(name="Group", slug="group", kind=Actor.Kind.NON_STATE_ARMED_GROUP)
        self.status_quo = ClauseFactory(
            agreement=self.agreement, number="2", position=2, title="Status quo", kind=Clause.Kind.STATUS_QUO
        )
        self.zone_clause = ClauseFactory(
            agreement=self.agreement, number="3", position=3, title="Zone", kind=Clause.Kind.DEMILITARISED_ZONE
        )
        self.ceasefire = ClauseFactory(
            agreement=self.agreement, number="10", position=10, title="Ceasefire", kind=Clause.Kind.CEASEFIRE
        )
        for clause in (self.status_quo, self.zone_clause, self.ceasefire):
            clause.obligated_actors.set([self.army, self.group])
        self.zone = ZoneFactory(agreement=self.agreement, clause=self.zone_clause, slug="zone", name="The zone")
        self.inside = PlaceFactory(name="Inside", admin1="Hama")  # 36.5 E 35.5 N: in the factory's square
        self.outside = PlaceFactory(name="Outside", latitude="34.5", longitude="36.5")
        self.source = SourceFactory(publisher="Wire", title="Shelling at Inside", reliability="B", credibility=2)

    def violation(self, **fields) -> Violation:
        fields.setdefault("user", self.reporter)
        fields.setdefault("agreement", self.agreement)
        fields.setdefault("place", self.inside)
        fields.setdefault("sources", [self.source])
        fields.setdefault("clauses", [self.status_quo])
        return make_violation(**fields)

    def verify(self, violation):
        return services.violation_verify(violation=violation, user=self.reviewer)

    def dispute(self, violation):
        return services.violation_dispute(violation=violation, user=self.reviewer, note="doubtful")


@pytest.fixture
def world(db):
    return World()


@pytest.fixture
def may(world):
    """Violations around May 2019: three counted (verified, unverified, disputed), four not."""
    w = world
    verified = w.verify(
        w.violation(
            started_at=at(6),
            perpetrators=[w.unit],
            clauses=[w.status_quo, w.ceasefire],
            killed_low=2,
            killed_best=3,
            killed_high=5,
            civilians_killed_best=1,
            displaced=100,
        )
    )
    unverified = w.violation(started_at=at(21), perpetrators=[w.group, w.army], health_facilities_hit=2)
    disputed = w.dispute(
        w.violation(started_at=at(1), perpetrators=[w.army], place=w.outside, clauses=[], killed_best=1)
    )
    w.violation(started_at=at(30, 4), perpetrators=[w.army])  # the day before the period
    w.violation(started_at=datetime(2019, 6, 1, 0, 0, tzinfo=UTC), perpetrators=[w.army])  # the day after
    rejected = w.violation(started_at=at(10), perpetrators=[w.army])
    services.violation_reject(violation=rejected, user=w.reviewer, note="did not happen")
    retracted = w.violation(started_at=at(11), perpetrators=[w.army])
    services.violation_retract(violation=retracted, user=w.reviewer, reason="duplicate")
    return {"verified": verified, "unverified": unverified, "disputed": disputed}


def test_period_label():
    assert period_label(date(2019, 5, 1), date(2019, 5, 31)) == "1–31 May 2019"
    assert period_label(date(2019, 5, 6), date(2019, 5, 6)) == "6 May 2019"
    assert period_label(date(2019, 5, 6), date(2019, 6, 2)) == "6 May – 2 June 2019"
    assert period_label(date(2018, 12, 20), date(2019, 1, 10)) == "20 December 2018 – 10 January 2019"


def annex_rows(agreement, **period) -> list[dict]:
    data, annex = report_build(agreement, **period)
    with annex.file:
        content = annex.file.read()
    assert hashlib.sha256(content).hexdigest() == data["annex"]["sha256"]
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    assert data["annex"]["rows"] == len(rows)
    return rows


def test_the_annex_lists_the_periods_violations_marked_by_status_oldest_first(world, may):
    rows = annex_rows(world.agreement, **MAY)

    assert [(v["uuid"], v["status"]) for v in rows] == [
        (str(may["disputed"].uuid), "disputed"),
        (str(may["verified"].uuid), "verified"),
        (str(may["unverified"].uuid), "unverified"),
    ]
    assert rows[1]["started_at"] == "2019-05-06T06:00:00Z" and rows[1]["perpetrators"] == "Tiger Unit"
    assert rows[1]["clauses"] == "2; 10" and rows[1]["in_zone"] == "true"
    assert rows[1]["killed_best"] == "3" and rows[1]["killed_from_civilians"] == "false"
    assert rows[1]["sources"] == f"Wire: Shelling at Inside [B2] {world.source.url}"
    assert rows[2]["perpetrators"] == "Army; Group" and rows[2]["killed_best"] == ""


def test_shows_the_most_serious_violations_in_full(world, may):
    data = report_data(world.agreement, **MAY)

    assert [(v["uuid"], v["status"]) for v in data["serious"]] == [
        (str(may["verified"].uuid), "verified"),  # 3 killed
        (str(may["disputed"].uuid), "disputed"),  # 1 killed
        (str(may["unverified"].uuid), "unverified"),  # none reported
    ]
    verified = data["serious"][0]
    assert verified["started_at"] == "2019-05-06T06:00:00Z"
    assert verified["perpetrators"] == ["Tiger Unit"]
    assert verified["clauses"] == ["2", "10"]
    assert verified["in_zone"] is True
    assert verified["sources"] == [
        {
            "publisher": "Wire",
            "title": "Shelling at Inside",
            "url": world.source.url,
            "published_on": "2019-05-07",
            "kind": "news_report",
            "grade": "B2",
            "note": "",
        }
    ]
    assert data["serious"][2]["perpetrators"] == ["Army", "Group"]
    assert data["summary"] == {
        "violations": 3,
        "verified": 1,
        "unverified": 1,
        "disputed": 1,
        "unattributed": 0,
        "no_clause_cited": 1,
    }


def test_holds_title_agreement_period_and_the_engines_assessment(world, may):
    data = report_data(world.agreement, **MAY)

    assert data["schema"] == 2
    assert data["title"] == "Compliance with the Zone memorandum, 1–31 May 2019"
    assert data["agreement"]["slug"] == "memo" and data["agreement"]["signed_on"] == "2018-09-17"
    assert data["period"] == {"from": "2019-05-01", "to": "2019-05-31", "label": "1–31 May 2019"}
    assert data["actor"] is None
    assessment = data["assessment"]
    assert [c["number"] for c in assessment["clauses"]] == ["2", "3", "10"]
    assert assessment["clause_count"] == 3
    assert data["labels"]["compliance_status"]["non_compliant"] == "Non-compliant"


def test_counts_actor_by_clause_as_the_engine_attributed_them(world, may):
    data = report_data(world.agreement, **MAY)

    evidence_rows = [
        (clause["number"], line["actor"], line["verified"], line["unverified"], line["disputed"])
        for clause in data["assessment"]["clauses"]
        for line in clause["evidence"]["violations"]["by_actor"]
    ]
    table_rows = [
        (row["clause"], row["actor"], row["verified"], row["unverified"], row["disputed"])
        for row in data["violations_by_actor_clause"]
    ]
    assert sorted(r for r in table_rows if r[0] is not None) == sorted(evidence_rows)
    assert ("2", "tiger", 1, 0, 0) in table_rows
    # The disputed violation cites no clause: it has its own row, not no row at all.
    assert [r for r in table_rows if r[0] is None] == [(None, "army", 0, 0, 1)]
    assert all(
        row["total"] == row["verified"] + row["unverified"] + row["disputed"]
        for row in data["violations_by_actor_clause"]
    )


def test_weekly_counts_each_perpetrator_in_the_week_the_violation_began(world, may):
    data = report_data(world.agreement, **MAY)

    assert data["weeks"] == ["2019-04-29", "2019-05-06", "2019-05-13", "2019-05-20", "2019-05-27"]
    assert [(row["week"], row["actor"], row["count"]) for row in data["weekly_by_actor"]] == [
        ("2019-04-29", "army", 1),
        ("2019-05-06", "tiger", 1),
        ("2019-05-20", "army", 1),
        ("2019-05-20", "group", 1),
    ]


def test_map_has_the_zones_and_the_located_incidents(world, may):
    data = report_data(world.agreement, **MAY)

    assert [zone["slug"] for zone in data["map"]["zones"]] == ["zone"]
    assert data["map"]["zones"][0]["geometry"]["type"] == "Polygon"
    incidents = {row["uuid"]: row for row in data["map"]["incidents"]}
    assert incidents[str(may["verified"].uuid)] == {
        "uuid": str(may["verified"].uuid),
        "lon": 36.5,
        "lat": 35.5,
        "status": "verified",
        "category": "shelling",
        "in_zone": True,
        "precision": "town",
        "place": "Inside",
    }
    assert incidents[str(may["disputed"].uuid)]["in_zone"] is False


def test_humanitarian_sums_reported_figures_and_leaves_unreported_ones_empty(world, may):
    block = report_data(world.agreement, **MAY)["humanitarian"]

    assert block["killed"] == {"low": 2, "best": 4, "high": 5}
    assert block["civilians_killed"] == {"low": None, "best": 1, "high": None}
    assert block["injured"] == {"low": None, "best": None, "high": None}
    assert block["displaced"] == 100 and block["health_facilities_hit"] == 2 and block["camps_hit"] is None
    assert block["violations"] == 3


def test_patrols_routes_and_control_changes_of_the_period(world, may):
    w = world
    services.model_save(
        instance=Patrol(agreement=w.agreement, patrolled_on=date(2019, 5, 3), kind="joint", outcome="attacked"),
        user=w.reporter,
        m2m={"participants": [w.army], "incidents": [may["verified"]]},
    )
    services.model_save(
        instance=Patrol(agreement=w.agreement, patrolled_on=date(2019, 4, 3), kind="joint", outcome="completed"),
        user=w.reporter,
        m2m={"participants": [w.army]},
    )
    for day, status in ((date(2018, 12, 31), "closed"), (date(2019, 3, 1), "partly_open"), (date(2019, 5, 9), "open")):
        services.model_save(
            instance=RouteStatus(agreement=w.agreement, route="M4", observed_on=day, status=status), user=w.reporter
        )

    data = report_data(w.agreement, **MAY)

    assert data["patrols"] == [
        {
            "date": "2019-05-03",
            "date_precision": "day",
            "kind": "joint",
            "participants": ["Army"],
            "route": "",
            "outcome": "attacked",
            "clause": None,
            "incidents": 1,
        }
    ]
    assert [(r["observed_on"], r["status"], r["before_period"]) for r in data["route_statuses"]] == [
        ("2019-03-01", "partly_open", True),
        ("2019-05-09", "open", False),
    ]
    assert data["control_changes"] == []


def test_with_an_actor_only_what_it_and_its_parts_are_alleged_to_have_done(world, may):
    data = report_data(world.agreement, **MAY, actor=world.army)

    assert data["actor"] == {"slug": "army", "name": "Army"}
    assert data["title"] == "Compliance with the Zone memorandum: Army, 1–31 May 2019"
    assert {v["uuid"] for v in data["serious"]} == {str(v.uuid) for v in may.values()}
    assert {v["uuid"] for v in annex_rows(world.agreement, **MAY, actor=world.army)} == {
        str(v.uuid) for v in may.values()
    }
    group_only = report_data(world.agreement, **MAY, actor=world.group)
    assert [v["uuid"] for v in group_only["serious"]] == [str(may["unverified"].uuid)]
    assert [v["uuid"] for v in annex_rows(world.agreement, **MAY, actor=world.group)] == [str(may["unverified"].uuid)]


def test_with_an_actor_only_its_patrols_and_the_ground_it_gained(world, may):
    w = world
    for participant in (w.unit, w.group):
        services.model_save(
            instance=Patrol(agreement=w.agreement, patrolled_on=date(2019, 5, 3), kind="joint", outcome="completed"),
            user=w.reporter,
            m2m={"participants": [participant]},
        )
    for winner, loser in ((w.army, w.group), (w.group, w.army)):
        services.model_save(
            instance=ControlChange(
                agreement=w.agreement, place=w.inside, occurred_on=date(2019, 5, 8), from_actor=loser, to_actor=winner
            ),
            user=w.reporter,
        )

    data = report_data(w.agreement, **MAY, actor=w.army)

    assert [p["participants"] for p in data["patrols"]] == [["Tiger Unit"]]
    assert [c["to_actor"] for c in data["control_changes"]] == ["Army"]
    assert len(report_data(w.agreement, **MAY)["control_changes"]) == 2


def test_is_json_and_deterministic(world, may):
    first = report_data(world.agreement, **MAY)
    second = report_data(world.agreement, **MAY)

    assert canonical_json(first) == canonical_json(second)
    assert json.loads(canonical_json(first)) == first


def test_query_count_does_not_grow_with_violations(world):
    def violations(n):
        for day in range(n):
            world.violation(started_at=at(1 + day % 28), perpetrators=[world.army, world.group])

    violations(5)
    _, few = count_queries(lambda: report_data(world.agreement, **MAY))
    violations(45)
    data, many = count_queries(lambda: report_data(world.agreement, **MAY))

    assert data["summary"]["violations"] == 50
    assert len(many) == len(few), "\n".join(many)


def test_empty_period(world):
    data = report_data(world.agreement, start=date(2020, 1, 1), end=date(2020, 1, 31))

    assert data["serious"] == [] and data["weekly_by_actor"] == [] and data["violations_by_actor_clause"] == []
    assert data["summary"]["violations"] == 0 and data["annex"]["rows"] == 0
    assert data["humanitarian"]["killed"] == {"low": None, "best": None, "high": None}
    for fmt in rendering.FORMATS:
        assert rendering.render_data(data, rendering.ReportMeta(None, "0" * 64, "x", "2020-02-01T00:00:00Z"), fmt)


def test_period_must_not_end_before_it_starts(world):
    with pytest.raises(ValueError):
        report_data(world.agreement, start=date(2019, 5, 31), end=date(2019, 5, 1))


# --- issuing ------------------------------------------------------------------------------------------------------


def test_issue_freezes_the_data_with_its_hash_who_and_when(world, may):
    report = report_issue(agreement=world.agreement, **MAY, user=world.reviewer, formats=["pdf"])

    report.refresh_from_db()
    assert report.frozen_data == report_data(world.agreement, **MAY)
    assert report.sha256 == content_hash(report.frozen_data)
    assert report.title == "Compliance with the Zone memorandum, 1–31 May 2019"
    assert report.issued_by == world.reviewer and report.issued_at is not None
    assert (report.period_start, report.period_end, report.actor) == (MAY["start"], MAY["end"], None)
    assert report.parameters == {
        "agreement": "memo",
        "from": "2019-05-01",
        "to": "2019-05-31",
        "actor": None,
        "formats": ["pdf"],
        "schema": 2,
    }


def test_issuing_the_same_content_again_returns_the_report_already_issued(world, may):
    first, created = report_get_or_issue(agreement=world.agreement, **MAY, user=world.reviewer)
    again, created_again = report_get_or_issue(agreement=world.agreement, **MAY, user=world.reporter)

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk and again.issued_by == world.reviewer
    assert Report.objects.count() == 1


def test_unknown_format_is_refused(world):
    with pytest.raises(ValueError, match="Unknown format"):
        report_issue(agreement=world.agreement, **MAY, user=world.reviewer, formats=["docx"])


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_an_issued_report_is_unchanged_by_later_edits(world, may):
    report = report_issue(agreement=world.agreement, **MAY, user=world.reviewer)
    before = {fmt: rendering.render(Report.objects.get(pk=report.pk), fmt).content for fmt in rendering.FORMATS}

    # Edit one violation, retract another, record a new one: the record now says something else …
    services.violation_update(
        violation=Violation.objects.get(pk=may["unverified"].pk),
        user=world.reporter,
        description="Rewritten after the report.",
        killed_best=40,
    )
    services.violation_retract(violation=may["disputed"], user=world.reviewer, reason="duplicate")
    world.violation(started_at=at(15), perpetrators=[world.group], killed_best=7)
    world.status_quo.title = "Status quo, renamed"
    services.clause_save(clause=world.status_quo, user=world.reviewer)
    assert content_hash(report_data(world.agreement, **MAY)) != report.sha256

    # … and the issued report still says what it said, provably.
    stored = Report.objects.get(pk=report.pk)
    assert stored.sha256 == report.sha256 == content_hash(stored.frozen_data)
    after = {fmt: rendering.render(stored, fmt).content for fmt in rendering.FORMATS}
    for fmt in ("json", "csv", "html"):
        assert after[fmt] == before[fmt], fmt
    assert _pdf_text(after["pdf"]) == _pdf_text(before["pdf"])
    assert "Rewritten after the report." not in _pdf_text(after["pdf"])
    assert "Status quo, renamed" not in after["html"].decode()
