"""POST /api/v1/reports/, the list and detail, and GET …/{id}/download/?format=…"""

import hashlib
import io
import json
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from agreements import services
from reports.issuing import content_hash
from reports.models import Report
from tests.api_helpers import assert_error, count_queries
from tests.factories import ActorFactory, AgreementFactory, ClauseFactory, UserFactory, make_violation

URL = "/api/v1/reports/"
MAY = {"agreement": "memo", "from": "2019-05-01", "to": "2019-05-31"}


@pytest.fixture
def memo(db):
    agreement = AgreementFactory(slug="memo", short_title="Zone memorandum")
    clause = ClauseFactory(agreement=agreement, number="1", title="Ceasefire", kind="ceasefire")
    army = ActorFactory(name="Army", slug="army")
    reporter = UserFactory(username="reporter", role="monitor")
    violation = make_violation(
        user=reporter,
        agreement=agreement,
        clauses=[clause],
        perpetrators=[army],
        started_at=datetime(2019, 5, 6, tzinfo=UTC),
        description="Shelling of the market.",
    )
    return {"agreement": agreement, "clause": clause, "army": army, "violation": violation, "reporter": reporter}


def issue(api, role="analyst", **body):
    return api.client(role).post(URL, {**MAY, **body}, format="json")


def test_analyst_issues_a_report(api, memo):
    response = issue(api, formats=["pdf", "csv"])

    assert response.status_code == 201, response.content
    body = response.json()
    report = Report.objects.get()
    assert response["Location"] == f"{URL}{report.pk}/"
    assert body["id"] == report.pk
    assert body["title"] == "Compliance with the Zone memorandum, 1–31 May 2019"
    assert body["agreement"] == {"slug": "memo", "title": memo["agreement"].title}
    assert body["actor"] is None
    assert body["period"] == {"from": "2019-05-01", "to": "2019-05-31"}
    assert body["sha256"] == report.sha256 == content_hash(report.frozen_data)
    assert body["issued_by"] == "analyst"
    assert body["parameters"]["formats"] == ["pdf", "csv"]
    assert body["downloads"]["pdf"] == f"http://testserver{URL}{report.pk}/download/?format=pdf"
    assert set(body["downloads"]) == {"pdf", "html", "csv", "xlsx", "json", "annex-csv", "annex-xlsx"}


def test_issuing_identical_content_again_answers_200_with_the_first_report(api, memo):
    first = issue(api).json()

    again = issue(api, role="admin")

    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["issued_by"] == "analyst"


def test_report_on_one_actor(api, memo):
    response = issue(api, actor="army")

    assert response.status_code == 201, response.content
    assert response.json()["actor"] == {"id": memo["army"].pk, "slug": "army", "name": "Army"}
    assert response.json()["title"] == "Compliance with the Zone memorandum: Army, 1–31 May 2019"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"agreement": "nope"}, {"agreement"}),
        ({"from": "2019-06-01"}, {"to"}),
        ({"to": "31/05/2019"}, {"to"}),
        ({"actor": "nobody"}, {"actor"}),
        ({"formats": ["docx"]}, {"formats"}),
    ],
)
def test_bad_input_is_400_with_field_messages(api, memo, body, fields):
    assert_error(issue(api, **body), 400, code="invalid", fields=fields)
    assert not Report.objects.exists()


def test_missing_period_is_400(api, memo):
    response = api.client("analyst").post(URL, {"agreement": "memo"}, format="json")

    assert_error(response, 400, fields={"from", "to"})


def test_monitor_reads_but_may_not_issue(api, memo):
    report_id = issue(api).json()["id"]
    monitor = api.client("monitor")

    assert_error(issue(api, role="monitor"), 403)
    assert monitor.get(f"{URL}{report_id}/").status_code == 200
    assert monitor.get(f"{URL}{report_id}/download/", {"format": "json"}).status_code == 200


def test_read_only_token_may_not_issue(api, memo):
    response = api.client("analyst", name="reader", read_only=True).post(URL, MAY, format="json")

    assert_error(response, 403)


def test_anonymous_is_401(api, memo):
    report_id = issue(api).json()["id"]

    assert_error(api.anonymous.post(URL, MAY, format="json"), 401)
    assert_error(api.anonymous.get(URL), 401)
    assert_error(api.anonymous.get(f"{URL}{report_id}/download/", {"format": "pdf"}), 401)


def test_reports_are_never_changed_or_deleted(api, memo):
    report_id = issue(api).json()["id"]

    for client in (api.client("admin"), api.client("analyst"), api.anonymous):
        for method in ("put", "patch", "delete"):
            assert_error(getattr(client, method)(f"{URL}{report_id}/", {}, format="json"), 405)
    assert Report.objects.filter(pk=report_id).exists()


def test_list_and_detail(api, memo):
    report_id = issue(api).json()["id"]
    client = api.client("analyst")

    listing = client.get(URL, {"agreement": "memo"})
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [report_id]
    assert "frozen_data" not in listing.json()["results"][0]
    assert client.get(URL, {"agreement": "other"}).json()["results"] == []
    assert client.get(f"{URL}{report_id}/").json()["sha256"] == Report.objects.get().sha256
    assert_error(client.get(f"{URL}999999/"), 404)


def test_list_query_count_does_not_grow_with_reports(api, memo):
    client = api.client("analyst")
    issue(api)
    client.get(URL)  # the token's first use is recorded once; count the requests after it
    _, one = count_queries(lambda: client.get(URL))
    for day in range(2, 6):
        assert issue(api, **{"from": f"2019-05-0{day}"}).status_code == 201

    response, five = count_queries(lambda: client.get(URL))

    assert len(response.json()["results"]) == 5
    assert len(five) == len(one), "\n".join(five)


@pytest.mark.parametrize(
    ("fmt", "content_type", "magic"),
    [
        ("pdf", "application/pdf", b"%PDF-"),
        ("html", "text/html; charset=utf-8", b"<!DOCTYPE html>"),
        ("csv", "text/csv; charset=utf-8", "\ufeffclause,".encode()),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK"),
        ("json", "application/json", b"{"),
    ],
)
def test_download_every_format(api, memo, fmt, content_type, magic):
    report_id = issue(api).json()["id"]

    response = api.client("analyst").get(f"{URL}{report_id}/download/", {"format": fmt})

    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == (
        f'attachment; filename="memo-2019-05-01-2019-05-31-report-{report_id}.{fmt}"'
    )
    assert response.content.startswith(magic)
    assert response["ETag"]


def test_pdf_download_says_what_the_report_says(api, memo):
    body = issue(api).json()

    response = api.client("analyst").get(f"{URL}{body['id']}/download/?format=pdf")

    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages).split())
    assert body["title"] in text and body["sha256"] in text and "1 May 2019 – 31 May 2019" in text
    assert "Shelling of the market." in text


def test_download_is_from_the_frozen_data(api, memo):
    body = issue(api).json()
    client = api.client("analyst")
    url = f"{URL}{body['id']}/download/"
    before = {fmt: client.get(url, {"format": fmt}).content for fmt in ("json", "csv", "annex-csv")}

    services.violation_update(
        violation=memo["violation"], user=memo["reporter"], description="Changed later.", killed_best=9
    )

    for fmt, content in before.items():
        assert client.get(url, {"format": fmt}).content == content
    document = json.loads(before["json"])
    assert document["sha256"] == body["sha256"] == content_hash(document["data"])
    assert document["data"]["serious"][0]["description"] == "Shelling of the market."
    assert hashlib.sha256(before["annex-csv"]).hexdigest() == document["data"]["annex"]["sha256"]
    assert "Shelling of the market." in before["annex-csv"].decode("utf-8-sig")
    workbook = load_workbook(io.BytesIO(client.get(url, {"format": "xlsx"}).content))
    assert workbook["Clauses"].max_row == 2


def test_download_answers_304_to_its_etag(api, memo):
    report_id = issue(api).json()["id"]
    client = api.client("analyst")
    url = f"{URL}{report_id}/download/?format=csv"
    etag = client.get(url)["ETag"]

    response = client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304 and response.content == b""
    assert client.get(f"{URL}{report_id}/download/?format=json", HTTP_IF_NONE_MATCH=etag).status_code == 200


@pytest.mark.parametrize("query", ["?format=docx", "", "?format="])
def test_download_of_an_unknown_format_is_400(api, memo, query):
    report_id = issue(api).json()["id"]

    assert_error(api.client("analyst").get(f"{URL}{report_id}/download/{query}"), 400, fields={"format"})


def test_download_of_a_missing_report_is_404(api, memo):
    assert_error(api.client("analyst").get(f"{URL}999999/download/?format=pdf"), 404)


def test_download_without_the_trailing_slash_is_redirected_with_its_format(api, memo):
    report_id = issue(api).json()["id"]

    response = api.client("analyst").get(f"{URL}{report_id}/download?format=pdf")

    assert response.status_code == 301
    assert response["Location"] == f"{URL}{report_id}/download/?format=pdf"
