"""A report for any volume has a bounded size: its PDF pages and its JSON do not grow with the number of violations
(every violation is in the annex, whose rows do)."""

import csv
import io
import json
from datetime import date

import pytest
from django.core.management import call_command
from pypdf import PdfReader

from agreements import synthetic
from agreements.models import Agreement
from reports import rendering
from reports.issuing import report_issue
from reports.rendering.annex import annex_csv
from tests.factories import UserFactory

YEAR = {"start": date(2019, 1, 1), "end": date(2019, 12, 31)}


def _issue(agreement, user):
    report = report_issue(agreement=agreement, **YEAR, user=user)
    pdf = rendering.render(report, "pdf").content
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    body = rendering.render(report, "json").content
    rows = list(csv.reader(io.StringIO(annex_csv(report).decode("utf-8-sig"))))[1:]
    return {"report": report, "pages": pages, "json": len(body), "rows": len(rows), "data": json.loads(body)["data"]}


@pytest.mark.django_db
def test_pdf_pages_and_json_size_stay_bounded_as_violations_grow_tenfold():
    call_command("load_sochi", stdout=io.StringIO())
    agreement = Agreement.objects.get(slug="sochi-2018")
    user = UserFactory(username="volume-analyst", role="analyst")
    maker = UserFactory(username="synthetic", role="monitor")  # the bulk writer asks the recording rule

    synthetic.generate(agreement=agreement, count=400, seed=1, user=maker)
    few = _issue(agreement, user)
    synthetic.generate(agreement=agreement, count=3600, seed=2, user=maker)
    many = _issue(agreement, user)

    counted = (few["data"]["summary"]["violations"], many["data"]["summary"]["violations"])
    assert counted[1] > 8 * counted[0] > 0
    # Every violation is in the annex …
    assert (few["rows"], many["rows"]) == counted
    # … while the report itself keeps its size: the map turns to cells, the list to the most serious.
    assert few["data"]["map"]["incidents"] and not few["data"]["map"]["cells"]
    assert many["data"]["map"]["cells"] and not many["data"]["map"]["incidents"]
    assert len(many["data"]["serious"]) == len(few["data"]["serious"]) == many["data"]["serious_limit"]
    assert many["pages"] <= few["pages"], (few["pages"], many["pages"])
    assert many["json"] < 1.25 * few["json"], (few["json"], many["json"])
