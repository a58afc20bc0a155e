"""Exports keep every figure: a violation whose total killed is not reported but whose civilians killed are (2 / 3 /
4) exports those as its killed totals and its ACLED fatalities, through the Python CSV, the streamed CSV (COPY on
PostgreSQL) and the XLSX; and the XLSX holds real dates, numbers and booleans under a frozen, filtered header."""

import csv
import io
from datetime import UTC, datetime

import openpyxl
import pytest
from django.db import connection

from agreements.exports import ACLED_COLUMNS, VIOLATION_COLUMNS, csv_stream, iter_csv, xlsx_bytes
from agreements.exports.copy_sql import supports
from agreements.models import Violation
from tests.factories import AgreementFactory, PlaceFactory, UserFactory, make_violation

pytestmark = pytest.mark.django_db


@pytest.fixture
def civilians_only():
    agreement = AgreementFactory()
    user = UserFactory(role="monitor")
    civilians = make_violation(
        user=user,
        agreement=agreement,
        civilians_killed_low=2,
        civilians_killed_best=3,
        civilians_killed_high=4,
        civilians_injured_best=1,
    )
    counted = make_violation(
        user=user, agreement=agreement, killed_best=7, civilians_killed_best=5, place=PlaceFactory()
    )
    nothing = make_violation(user=user, agreement=agreement, place=PlaceFactory())
    return Violation.objects.filter(agreement=agreement).order_by("started_at", "id"), civilians, counted, nothing


def read_csv(data: bytes) -> dict[str, dict[str, str]]:
    text = data.decode("utf-8").lstrip("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    key = "uuid" if "uuid" in header else "event_id_cnty"
    return {row[header.index(key)]: dict(zip(header, row, strict=True)) for row in rows}


@pytest.mark.parametrize("path", ["python", "stream"])
def test_civilian_figures_stand_in_for_an_empty_total_in_our_csv(civilians_only, path):
    queryset, civilians, counted, nothing = civilians_only
    if path == "stream":
        assert supports(queryset, VIOLATION_COLUMNS) is (connection.vendor == "postgresql")  # COPY where it can
        data = b"".join(csv_stream(queryset, VIOLATION_COLUMNS))
    else:
        data = "".join(iter_csv(queryset, VIOLATION_COLUMNS)).encode()
    rows = read_csv(data)

    row = rows[str(civilians.uuid)]
    assert (row["killed_low"], row["killed_best"], row["killed_high"]) == ("2", "3", "4")
    assert (row["civilians_killed_low"], row["civilians_killed_best"], row["civilians_killed_high"]) == ("2", "3", "4")
    assert (row["injured_best"], row["injured_low"]) == ("1", "")
    assert rows[str(counted.uuid)]["killed_best"] == "7"  # a reported total is the total
    assert rows[str(nothing.uuid)]["killed_best"] == ""  # nothing reported stays empty


@pytest.mark.parametrize("path", ["python", "stream"])
def test_acled_fatalities_count_the_civilians_when_the_total_is_empty(civilians_only, path):
    queryset, civilians, counted, nothing = civilians_only
    if path == "stream":
        data = b"".join(csv_stream(queryset, ACLED_COLUMNS))
    else:
        data = "".join(iter_csv(queryset, ACLED_COLUMNS)).encode()
    rows = read_csv(data)
    assert rows[str(civilians.uuid)]["fatalities"] == "3"
    assert rows[str(counted.uuid)]["fatalities"] == "7"
    assert rows[str(nothing.uuid)]["fatalities"] == "0"  # ACLED's "none reported"


def test_the_streamed_csv_is_the_python_csv_for_civilian_only_figures(civilians_only):
    queryset = civilians_only[0]
    for columns in (VIOLATION_COLUMNS, ACLED_COLUMNS):
        assert b"".join(csv_stream(queryset, columns)) == "".join(iter_csv(queryset, columns)).encode()


def _sheet(data: bytes):
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    return workbook["Violations"]


def test_the_xlsx_holds_the_civilian_figures_as_numbers(civilians_only):
    queryset, civilians, _, _ = civilians_only
    for columns, figures in (
        (VIOLATION_COLUMNS, ("killed_low", "killed_best", "killed_high")),
        (ACLED_COLUMNS, ("fatalities",)),
    ):
        sheet = _sheet(xlsx_bytes(queryset, columns, max_rows=10))
        header = [cell.value for cell in sheet[1]]
        key = header.index("uuid" if "uuid" in header else "event_id_cnty")
        row = next(row for row in sheet.iter_rows(min_row=2, values_only=True) if row[key] == str(civilians.uuid))
        values = [row[header.index(name)] for name in figures]
        assert values == ([2, 3, 4] if len(figures) == 3 else [3])
        assert all(isinstance(value, int) for value in values)


def test_the_xlsx_holds_dates_numbers_and_booleans_under_a_frozen_filtered_header(civilians_only):
    queryset, civilians, _, _ = civilians_only
    data = xlsx_bytes(queryset, VIOLATION_COLUMNS, max_rows=10)
    sheet = _sheet(data)
    header = [cell.value for cell in sheet[1]]
    cells = {name: sheet.cell(row=2, column=header.index(name) + 1) for name in header}

    assert isinstance(cells["started_at"].value, datetime) and cells["started_at"].is_date
    assert cells["started_at"].value == civilians.started_at.astimezone(UTC).replace(tzinfo=None)
    assert isinstance(cells["latitude"].value, float) and cells["latitude"].data_type == "n"
    assert isinstance(cells["version"].value, int)
    assert cells["retracted"].value is False and cells["retracted"].data_type == "b"
    assert cells["description"].data_type == "s"

    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}{queryset.count() + 1}"
    widths = {
        name: sheet.column_dimensions[openpyxl.utils.get_column_letter(i + 1)].width for i, name in enumerate(header)
    }
    assert widths["description"] > widths["category"] >= 8
    assert widths["started_at"] >= 19  # "2019-05-06 04:00:00" fits
