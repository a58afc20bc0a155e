"""The renderers, fed a frozen document written by hand (tests/reports/report_samples.py): no record, no engine."""

import csv
import io
import json
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from reports.issuing import canonical_json
from reports.rendering import FORMATS, render_data
from reports.rendering.charts import map_svg, weekly_chart_svg
from reports.rendering.tables import sheet_names
from tests.reports.report_samples import META, frozen

CLAUSE_COUNT = 5


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def flat(text: str) -> str:
    # Table cells wrap; compare with the line breaks folded into spaces.
    return " ".join(text.split())


class Structure(HTMLParser):
    """Tags seen, and whether every opened element (bar the void ones) was closed in order."""

    VOID = {"meta", "br", "img", "hr", "input", "link", "rect", "line", "circle", "path", "col"}

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_pdf_says_agreement_period_hash_and_each_clause_status():
    rendered = render_data(frozen(), META, "pdf")

    assert rendered.content.startswith(b"%PDF-")
    assert rendered.content_type == "application/pdf"
    text = flat(pdf_text(rendered.content))
    assert "Compliance with the Sochi memorandum, 1–31 May 2019" in text
    assert "Memorandum on Stabilization of the Situation in the Idlib De-escalation Area" in text
    assert "1 May 2019 – 31 May 2019" in text
    assert META.sha256 in text
    assert "Ana Analyst (analyst)" in text and "2019-06-03 09:30 UTC" in text
    for label in ("Non-compliant", "Partially compliant", "Compliant", "Not assessed", "Not yet due"):
        assert label in text
    assert "44%" in text  # the overall percentage


def test_pdf_prints_letters_beyond_latin_1():
    data = frozen()
    data["violations"][0]["description"] = "Türkiye, şehir, Россия"

    text = pdf_text(render_data(data, META, "pdf").content)

    assert "Türkiye, şehir, Россия" in flat(text)


def test_html_parses_and_carries_the_chart_and_map_inline():
    html = render_data(frozen(), META, "html").content.decode()

    parser = Structure()
    parser.feed(html)
    parser.close()
    assert html.startswith("<!DOCTYPE html>")
    assert parser.errors == [] and parser.stack == []
    assert parser.tags.count("svg") == 2
    assert 'aria-label="Violations per week by alleged perpetrator"' in html
    assert 'aria-label="Map of the zones and the period\'s incidents"' in html
    text = flat(" ".join(parser.text))
    assert META.sha256 in text and "1 May 2019 – 31 May 2019" in text
    assert "pdf:pagenumber" not in html  # the page furniture is the PDF's alone


def test_html_escapes_what_the_record_says():
    data = frozen()
    data["violations"][0]["description"] = "<script>alert(1)</script>"
    data["violations"][0]["place"] = "<b>Kafr</b>"
    data["map"]["incidents"][0]["place"] = "<b>Kafr</b>"

    html = render_data(data, META, "html").content.decode()

    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<b>Kafr</b>" not in html


def test_chart_stacks_the_actors_of_each_week():
    svg = weekly_chart_svg(frozen())

    assert svg.startswith("<svg")
    assert "Syrian Arab Army (2)" in svg
    assert "Hayat Tahrir al-Sham: 1" in svg and "National Front for Liberation: 1" in svg
    assert svg.count("<rect") == 1 + 4 + 3  # background, four bar segments, three legend keys


def test_chart_without_violations_says_so():
    data = frozen()
    data["weekly_by_actor"] = []

    assert "No violations in the period" in weekly_chart_svg(data)


def test_map_draws_zones_and_incidents_coloured_by_status():
    svg = map_svg(frozen())

    assert svg.count("<path") == 2
    assert 'fill="#B2182B"' in svg  # the verified incident
    assert 'stroke="#6A51A3" stroke-width="1.8" stroke-dasharray' in svg  # disputed, placed at governorate level
    assert "Kafr Nabudah (2)" in svg  # two incidents at one point, labelled once


def test_map_without_anything_to_draw():
    data = frozen()
    data["map"] = {"zones": [], "incidents": []}

    assert "No zones and no located incidents to map" in map_svg(data)


def test_xlsx_has_every_table_and_one_clause_row_per_clause():
    content = render_data(frozen(), META, "xlsx").content

    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == list(sheet_names())
    clauses = list(workbook["Clauses"].iter_rows(values_only=True))
    assert len(clauses) == 1 + CLAUSE_COUNT
    header = clauses[0]
    assert [row[header.index("clause")] for row in clauses[1:]] == ["2", "3", "6", "7", "8"]
    assert clauses[1][header.index("status_label")] == "Non-compliant"
    assert clauses[2][header.index("overridden_by")] == "analyst"
    about = dict(workbook["About"].iter_rows(values_only=True))
    assert about["SHA-256"] == META.sha256 and about["Issued by"] == "Ana Analyst (analyst)"
    violations = list(workbook["Most serious"].iter_rows(values_only=True))
    description = violations[0].index("description")
    assert violations[2][description].startswith("'=HYPERLINK")  # formula-escaped


def test_csv_is_the_clauses_table_with_formula_escaping():
    data = frozen()
    data["assessment"]["clauses"][0]["title"] = "=1+1"

    content = render_data(data, META, "csv").content

    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert len(rows) == 1 + CLAUSE_COUNT
    assert rows[0][:3] == ["clause", "title", "kind"]
    assert rows[1][1] == "'=1+1"


def test_json_is_the_frozen_data_with_who_when_and_the_hash():
    data = frozen()

    document = json.loads(render_data(data, META, "json").content)

    assert document["data"] == data
    assert canonical_json(document["data"]) == canonical_json(data)
    assert {key: document[key] for key in ("report", "issued_by", "issued_at", "sha256")} == {
        "report": 7,
        "issued_by": "Ana Analyst (analyst)",
        "issued_at": "2019-06-03T09:30:00Z",
        "sha256": META.sha256,
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_rendering_twice_gives_the_same_words(fmt):
    first, second = render_data(frozen(), META, fmt), render_data(frozen(), META, fmt)

    if fmt == "pdf":
        assert pdf_text(first.content) == pdf_text(second.content)
    elif fmt == "xlsx":
        assert [list(s.values) for s in load_workbook(io.BytesIO(first.content))] == [
            list(s.values) for s in load_workbook(io.BytesIO(second.content))
        ]
    else:
        assert first.content == second.content
    assert first.filename == f"sochi-2018-2019-05-01-2019-05-31-report-7.{fmt}"


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="Unknown format"):
        render_data(frozen(), META, "docx")
