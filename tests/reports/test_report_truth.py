"""Reports that add up: distinct actor totals, a row for violations citing no clause, casualty totals that never
lose a civilian figure (PDF, HTML, JSON, XLSX and the annex), real cell types in the workbooks, and the counting
queryset giving the same answer on every engine."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from agreements.models import Clause, Violation
from reports import rendering
from reports.issuing import report_issue
from tests.reports.compliance_helpers import World

pytestmark = pytest.mark.django_db

MAY = {"start": date(2019, 5, 1), "end": date(2019, 5, 31)}


@pytest.fixture
def world(db):
    world = World()
    world.ceasefire = world.clause(Clause.Kind.CEASEFIRE)
    world.other = world.clause(Clause.Kind.OTHER)
    return world


def _issue(world):
    return report_issue(agreement=world.agreement, **MAY, user=world.reviewer)


def _text(content: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages).split())


def _sheet(content: bytes, name: str) -> tuple[list[str], list[tuple]]:
    rows = list(load_workbook(io.BytesIO(content))[name].iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


# --- civilians only: a total not reported reads its civilian figure, everywhere -------------------------------------


@pytest.fixture
def civilians_only(world):
    return world.violation(
        world.ceasefire,
        on=date(2019, 5, 6),
        status="verified",
        civilians_killed_low=2,
        civilians_killed_best=3,
        civilians_killed_high=4,
    )


NOTE = "reported civilians killed but no total"


def test_civilians_only_in_the_json(world, civilians_only):
    data = json.loads(rendering.render(_issue(world), "json").content)["data"]

    assert data["humanitarian"]["killed"] == {"low": 2, "best": 3, "high": 4}
    assert data["humanitarian"]["civilians_killed"] == {"low": 2, "best": 3, "high": 4}
    assert data["humanitarian"]["from_civilians"] == {"killed": 1, "injured": 0}
    serious = data["serious"][0]
    assert (serious["killed_best"], serious["killed_from_civilians"]) == (3, True)


def test_civilians_only_in_the_pdf_and_the_html(world, civilians_only):
    report = _issue(world)
    html = " ".join(re.sub(r"<[^>]+>", "", rendering.render(report, "html").content.decode()).split())
    pdf = _text(rendering.render(report, "pdf").content)

    for text in (html, pdf):
        assert "Killed (best): 3 (civilians; total not reported)" in text
        assert f"1 violation {NOTE}" in text
    assert "Killed (best): —" not in pdf


def test_civilians_only_in_the_xlsx_and_the_annex(world, civilians_only):
    report = _issue(world)
    header, rows = _sheet(rendering.render(report, "xlsx").content, "Humanitarian")
    killed = next(row for row in rows if row[0] == "killed")
    assert killed[1:] == (2, 3, 4)
    header, rows = _sheet(rendering.render(report, "xlsx").content, "Most serious")
    assert rows[0][header.index("killed_best")] == 3 and rows[0][header.index("killed_from_civilians")] is True

    annex = list(csv.DictReader(io.StringIO(rendering.render(report, "annex-csv").content.decode("utf-8-sig"))))
    assert [(r["killed_low"], r["killed_best"], r["killed_high"], r["killed_from_civilians"]) for r in annex] == [
        ("2", "3", "4", "true")
    ]
    header, rows = _sheet(rendering.render(report, "annex-xlsx").content, "Annex")
    assert rows[0][header.index("killed_best")] == 3 and rows[0][header.index("killed_from_civilians")] is True


def test_civilians_only_in_the_stats(world, civilians_only, api):
    response = api.client("analyst").get("/api/v1/stats/violations", {"group_by": "status"})

    assert response.status_code == 200, response.content
    row = next(row for row in response.json()["results"] if row["status"] == "verified")
    assert (row["killed"], row["civilians_killed"]) == (3, 3)


# --- totals that add up --------------------------------------------------------------------------------------------


def test_actor_totals_are_distinct_violations_and_uncited_ones_have_their_row(world):
    w = world
    w.violation(w.ceasefire, w.other, on=date(2019, 5, 2), status="verified", perpetrators=[w.army])
    w.violation(w.ceasefire, on=date(2019, 5, 3), perpetrators=[w.army, w.rebels])
    w.violation(on=date(2019, 5, 4), perpetrators=[w.rebels])  # cites no clause
    w.violation(w.ceasefire, on=date(2019, 5, 5), status="rejected", perpetrators=[w.army])  # not counted

    data = json.loads(rendering.render(_issue(w), "json").content)["data"]

    counted = Violation.objects.counted().filter(agreement=w.agreement)
    expected = {actor.slug: counted.filter(perpetrators=actor).distinct().count() for actor in (w.army, w.rebels)}
    assert {line["actor"]: line["total"] for line in data["actor_totals"]} == expected == {"army": 2, "rebels": 2}
    cells = {(r["actor"], r["clause"]): r["total"] for r in data["violations_by_actor_clause"]}
    assert sum(n for (actor, _), n in cells.items() if actor == "army") == 3, "the cells count per clause"
    assert cells[("rebels", None)] == 1 and data["summary"]["no_clause_cited"] == 1
    html = rendering.render(_issue(w), "html").content.decode()
    assert "No clause cited" in html and "All (distinct)" in html


# --- workbooks hold real values ------------------------------------------------------------------------------------


def test_report_and_annex_workbooks_hold_dates_numbers_booleans_with_frozen_filtered_headers(world):
    world.violation(world.ceasefire, on=date(2019, 5, 6), status="verified", killed_best=5)
    report = _issue(world)
    for fmt, name in (("xlsx", "Most serious"), ("annex-xlsx", "Annex")):
        sheet = load_workbook(io.BytesIO(rendering.render(report, fmt).content))[name]
        header = [cell.value for cell in sheet[1]]
        row = [cell.value for cell in sheet[2]]
        assert isinstance(row[header.index("started_at")], datetime)
        assert row[header.index("started_at")] == datetime(2019, 5, 6, 12, 0)  # UTC, as Excel has no zones
        assert row[header.index("killed_best")] == 5 and isinstance(row[header.index("killed_best")], int)
        assert row[header.index("in_zone")] in (True, False, None)
        assert isinstance(row[header.index("latitude")], float)
        assert sheet.freeze_panes == "A2"
        assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, len(header)).column_letter}2"
        assert all(sheet.column_dimensions[c.column_letter].width >= 8 for c in sheet[1])
    header, rows = _sheet(rendering.render(report, "xlsx").content, "Clauses")
    assert all(isinstance(row[header.index("violations_verified")], int) for row in rows)


# --- the counting queryset, on every engine ------------------------------------------------------------------------


def test_counted_and_standing_are_the_same_on_every_engine(world):
    made = {
        status: world.violation(world.ceasefire, on=date(2019, 5, 6), status=status)
        for status in ("reported", "verified", "disputed", "rejected", "retracted")
    }
    mine = Violation.objects.filter(agreement=world.agreement)

    assert set(mine.standing()) == {made[s] for s in ("reported", "verified", "disputed", "rejected")}
    assert set(mine.counted()) == {made[s] for s in ("reported", "verified", "disputed")}
    assert mine.counted().count() == 3
