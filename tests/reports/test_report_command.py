"""python manage.py compliance_report --agreement SLUG --from D --to D --format F -o FILE"""

import io
import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook
from pypdf import PdfReader

from reports.models import Report
from tests.factories import ActorFactory, AgreementFactory, ClauseFactory, UserFactory, make_violation

MAY = ["--agreement", "sochi-2018", "--from", "2019-05-01", "--to", "2019-05-31"]


@pytest.fixture
def sochi(db):
    agreement = AgreementFactory(slug="sochi-2018", short_title="Sochi memorandum")
    clause = ClauseFactory(agreement=agreement, number="9", title="Lasting ceasefire", kind="ceasefire")
    army = ActorFactory(name="Syrian Arab Army", slug="syrian-arab-army")
    make_violation(
        agreement=agreement, clauses=[clause], perpetrators=[army], started_at=datetime(2019, 5, 6, tzinfo=UTC)
    )
    return agreement


def run(*args) -> str:
    out = io.StringIO()
    call_command("compliance_report", *args, stdout=out)
    return out.getvalue()


def test_writes_a_pdf_and_prints_the_report_id_and_hash(sochi, tmp_path):
    target = tmp_path / "may-2019.pdf"

    out = run(*MAY, "--format", "pdf", "-o", str(target))

    report = Report.objects.get()
    assert f"report {report.pk}" in out and f"SHA-256 {report.sha256}" in out
    assert report.issued_by.username == "reports-cli" and not report.issued_by.has_usable_password()
    content = target.read_bytes()
    assert content.startswith(b"%PDF-")
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())
    assert "Compliance with the Sochi memorandum, 1–31 May 2019" in text and report.sha256 in text


def test_other_formats_and_a_named_user(sochi, tmp_path):
    UserFactory(username="ana")

    run(*MAY, "--format", "json", "-o", str(tmp_path / "may.json"), "--user", "ana")
    run(*MAY, "--format", "xlsx", "-o", str(tmp_path / "may.xlsx"))

    document = json.loads((tmp_path / "may.json").read_text())
    assert document["issued_by"] == "ana" and document["data"]["period"]["from"] == "2019-05-01"
    assert Report.objects.count() == 1  # the same content: the second run wrote the report already issued
    assert load_workbook(tmp_path / "may.xlsx")["Clauses"].max_row == 2


def test_default_file_name_in_the_current_directory(sochi, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    run(*MAY, "--format", "csv")

    report = Report.objects.get()
    assert (tmp_path / f"sochi-2018-2019-05-01-2019-05-31-report-{report.pk}.csv").exists()


def test_one_actor(sochi, tmp_path):
    run(*MAY, "--actor", "syrian-arab-army", "--format", "json", "-o", str(tmp_path / "army.json"))

    assert json.loads((tmp_path / "army.json").read_text())["data"]["actor"]["slug"] == "syrian-arab-army"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agreement", "nope", "--from", "2019-05-01", "--to", "2019-05-31"], "No agreement with slug 'nope'"),
        ([*MAY, "--actor", "nobody"], "No actor with slug 'nobody'"),
        ([*MAY, "--user", "ghost"], "No user named 'ghost'"),
        (["--agreement", "sochi-2018", "--from", "2019-05-31", "--to", "2019-05-01"], "ends"),
        (["--agreement", "sochi-2018", "--from", "31/05/2019", "--to", "2019-05-01"], "is not a date"),
        ([*MAY, "--format", "docx"], "invalid choice"),
    ],
)
def test_errors_are_command_errors(sochi, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args, "-o", str(tmp_path / "out"))
    assert not Report.objects.exists()


def test_unwritable_output_is_a_command_error(sochi, tmp_path):
    with pytest.raises(CommandError, match="Cannot write"):
        run(*MAY, "--format", "csv", "-o", str(tmp_path / "missing-dir" / "out.csv"))
