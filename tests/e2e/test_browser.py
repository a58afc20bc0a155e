"""End to end in a real browser: a monitor records a violation with two sources in the admin, a reviewer verifies
it, and the API then returns it as verified. Screenshots go to E2E_SCREENSHOTS (default: the test's tmp dir)."""

import json
import os
import shutil
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from agreements.models import Source, Violation
from compliance.tokens import token_issue
from tests.factories import UserFactory

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pass-word-123"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not shutil.which("chromium"),
    reason="No Chromium at /usr/bin/chromium: install Debian's chromium package (.ci/run does).",
)


@pytest.fixture
def browser():
    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from such a thread unless
    # told it is safe, which it is here (one thread drives the browser, the live server runs in another).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("E2E_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def staff(username, group):
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")


def autocomplete(page, field_id, text, choice):
    """Pick `choice` in a Django admin autocomplete (select2) after typing `text`."""
    page.click(f"#{field_id} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", text)
    page.click(f".select2-results__option:has-text('{choice}')")


def test_a_monitor_records_a_reviewer_verifies_and_the_api_says_verified(transactional_db, live_server, browser, shots):
    call_command("load_sochi", stdout=open(os.devnull, "w"))  # noqa: SIM115
    staff("monitor-mona", "monitor")
    staff("reviewer-rami", "reviewer")
    analyst = UserFactory(username="analyst-ana")
    analyst.groups.add(Group.objects.get(name="analyst"))
    _, key = token_issue(user=analyst, name="dashboard", read_only=True)
    sources_before = Source.objects.count()

    # The monitor records a violation with two new sources.
    monitor = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(monitor, live_server, "monitor-mona")
    monitor.goto(f"{live_server.url}/admin/agreements/violation/add/")
    autocomplete(monitor, "id_agreement", "Sochi", "Sochi")
    autocomplete(monitor, "id_clauses", "heavy", "Heavy weapons")
    monitor.select_option("#id_category", "shelling")
    monitor.fill("#id_description", "Artillery fire on Kafr Nabudah from positions inside the zone.")
    autocomplete(monitor, "id_perpetrators", "Syrian Arab Army", "Syrian Arab Army")
    monitor.fill("#id_started_at_0", "2019-05-12")
    monitor.fill("#id_started_at_1", "05:30:00")
    autocomplete(monitor, "id_place", "Kafr Nab", "Kafr Nabudah")
    monitor.fill("#id_killed_best", "2")
    monitor.fill("#id_citations-0-new_publisher", "Syrian Civil Defence")
    monitor.fill("#id_citations-0-new_title", "Shelling on Kafr Nabudah")
    monitor.fill("#id_citations-0-new_url", "https://example.org/scd/kafr-nabudah-0512")
    monitor.select_option("#id_citations-0-new_reliability", "B")
    monitor.select_option("#id_citations-0-new_credibility", "2")
    monitor.fill("#id_citations-1-new_publisher", "Local council of Kafr Nabudah")
    monitor.fill("#id_citations-1-new_title", "Statement on the shelling")
    monitor.select_option("#id_citations-1-new_kind", "official_statement")
    monitor.screenshot(path=shots / "1-monitor-violation-form.png", full_page=True)
    monitor.click("input[name=_save]")
    monitor.wait_for_selector(".messagelist .success")
    monitor.screenshot(path=shots / "2-monitor-saved-list.png", full_page=True)

    violation = Violation.objects.get(description__startswith="Artillery fire on Kafr Nabudah")
    assert violation.status == Violation.Status.REPORTED
    assert violation.in_zone is True
    assert Source.objects.count() == sources_before + 2
    assert sorted(s.grade for s in violation.sources.all()) == ["B2", "F6"]

    # A reviewer (not the reporter) verifies it from the list, with a note.
    reviewer = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(reviewer, live_server, "reviewer-rami")
    reviewer.goto(f"{live_server.url}/admin/agreements/violation/?status__exact=reported&o=-6")
    reviewer.screenshot(path=shots / "3-reviewer-queue.png", full_page=True)
    reviewer.check(f"input[name=_selected_action][value='{violation.pk}']")
    reviewer.select_option("select[name=action]", "verify_selected")
    reviewer.click("button[name=index]")
    reviewer.fill("#id_note", "Two independent sources; the place is in the zone.")
    reviewer.screenshot(path=shots / "4-reviewer-verify-note.png", full_page=True)
    reviewer.click("input[name=apply]")
    reviewer.wait_for_selector(".messagelist .success")
    reviewer.screenshot(path=shots / "5-reviewer-verified.png", full_page=True)

    # A dashboard's read-only token sees it verified.
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/violations/{violation.uuid}/", headers={"Authorization": f"Token {key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "verified"
    assert body["verified_by"] == "reviewer-rami"
    assert {s["grade"] for s in body["sources"]} == {"B2", "F6"}


def test_a_large_import_runs_as_a_job_whose_page_follows_it_until_it_is_done(
    transactional_db, live_server, browser, shots, settings, tmp_path
):
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    from compliance.jobs.models import Job

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_INLINE_MAX_ROWS = 3
    call_command("load_sochi", stdout=open(os.devnull, "w"))  # noqa: SIM115
    # A superuser: the role groups come from migrations, and the test before this one flushed them.
    UserFactory(username="importer", is_staff=True, is_superuser=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, live_server, "importer")

    page.goto(f"{live_server.url}/admin/agreements/import-violations/")
    page.set_input_files("#id_file", str(Path(__file__).resolve().parent.parent / "data" / "acled_sochi_good.csv"))
    page.select_option("#id_agreement", "sochi-2018")
    page.click("#import-form input[type=submit]")
    page.click("#confirm-import input[name=background]")
    page.wait_for_selector("#job-progress h2:has-text('Waiting for a worker')")
    page.screenshot(path=shots / "6-import-job-waiting.png", full_page=True)

    # What `manage.py db_worker` does, while the page keeps polling.
    worker = Worker(
        queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id="e2e-worker", excluded_queue_names=[],
    )  # fmt: skip
    task = DBTaskResult.objects.ready().get()
    task.claim(worker.worker_id)
    worker.run_task(task)

    page.wait_for_selector("text=5 violations imported", timeout=15_000)  # the page reloaded by itself
    page.screenshot(path=shots / "7-import-job-done.png", full_page=True)
    assert Job.objects.get().result["violations"] == 5
    assert page.locator("#job-progress").count() == 0
