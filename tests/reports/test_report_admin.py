"""The admin's face of reports: "Issue report", the read-only list and detail, downloads per format."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from reports.models import Report
from tests.factories import ActorFactory, AgreementFactory, ClauseFactory, UserFactory, make_violation

ADD = "admin:reports_report_add"
CHANGELIST = "admin:reports_report_changelist"


@pytest.fixture
def memo(db):
    agreement = AgreementFactory(slug="memo", short_title="Zone memorandum")
    clause = ClauseFactory(agreement=agreement, number="1", title="Ceasefire", kind="ceasefire")
    army = ActorFactory(name="Army", slug="army")
    make_violation(
        agreement=agreement, clauses=[clause], perpetrators=[army], started_at=datetime(2019, 5, 6, tzinfo=UTC)
    )
    return agreement


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def issue(client, agreement, **extra):
    body = {"agreement": agreement.pk, "start": "2019-05-01", "end": "2019-05-31", "actor": "", **extra}
    return client.post(reverse(ADD), body, follow=True)


def test_issue_report_page_and_issuing(admin_client, memo, superuser):
    page = admin_client.get(reverse(ADD))
    assert page.status_code == 200 and b"Issue report" in page.content

    response = issue(admin_client, memo)

    report = Report.objects.get()
    assert response.redirect_chain[-1][0] == reverse("admin:reports_report_change", args=[report.pk])
    assert report.issued_by == superuser
    text = response.content.decode()
    assert report.sha256 in text
    assert "Yes: the frozen data still hashes to this SHA-256." in text
    assert reverse("admin:reports_report_download", args=[report.pk, "pdf"]) in text


def test_issuing_unchanged_content_again_points_to_the_report_already_issued(admin_client, memo):
    issue(admin_client, memo)

    response = issue(admin_client, memo)

    assert Report.objects.count() == 1
    assert "Nothing changed since report" in response.content.decode()


def test_a_period_that_ends_before_it_starts_is_refused(admin_client, memo):
    response = issue(admin_client, memo, start="2019-05-31", end="2019-05-01")

    assert response.status_code == 200 and "The period ends before it starts." in response.content.decode()
    assert not Report.objects.exists()


def test_list_shows_the_hash_and_issue_link_and_nothing_can_be_edited_or_deleted(admin_client, memo):
    issue(admin_client, memo)
    report = Report.objects.get()

    listing = admin_client.get(reverse(CHANGELIST))

    text = listing.content.decode()
    assert report.sha256[:12] in text and "Issue report" in text
    change = admin_client.post(reverse("admin:reports_report_change", args=[report.pk]), {"title": "Edited"})
    assert change.status_code == 403
    assert admin_client.get(reverse("admin:reports_report_delete", args=[report.pk])).status_code == 403
    report.refresh_from_db()
    assert report.title != "Edited"


@pytest.mark.parametrize("fmt", ["pdf", "html", "csv", "xlsx", "json"])
def test_download_each_format(admin_client, memo, fmt):
    issue(admin_client, memo)
    report = Report.objects.get()

    response = admin_client.get(reverse("admin:reports_report_download", args=[report.pk, fmt]))

    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'report-{report.pk}.{fmt}"')


def test_unknown_format_or_report_is_404(admin_client, memo):
    issue(admin_client, memo)
    report = Report.objects.get()

    assert admin_client.get(reverse("admin:reports_report_download", args=[report.pk, "docx"])).status_code == 404
    assert admin_client.get(reverse("admin:reports_report_download", args=[999999, "pdf"])).status_code == 404


def test_staff_without_add_report_cannot_issue(client, memo):
    monitor = UserFactory(username="staff-monitor", is_staff=True)
    monitor.groups.add(Group.objects.get(name="monitor"))
    client.force_login(monitor)

    assert client.get(reverse(CHANGELIST)).status_code == 200  # monitors read reports
    assert client.get(reverse(ADD)).status_code == 403
    assert issue(client, memo).status_code == 403
    assert "Issue report" not in client.get(reverse(CHANGELIST)).content.decode()
    assert not Permission.objects.filter(user=monitor).exists()
