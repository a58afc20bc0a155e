"""Background jobs (compliance/jobs/, reports/jobs.py, agreements/jobs.py): reports, exports and imports started
through the API or the admin run as jobs with a state, progress, a result and an error; failures leave nothing
behind; transient failures are retried.

Most tests run tasks inline with django-tasks' ImmediateBackend (`immediate` fixture); tests marked "queued" use
the real database backend, and one runs `manage.py db_worker --batch` in a subprocess to prove the whole path."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import OperationalError, connection, transaction
from django.urls import reverse
from django_tasks import TaskContext
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from agreements.jobs import import_job_start
from agreements.models import Violation
from compliance.jobs.models import Job, JobKind, JobState
from compliance.tokens import token_issue
from reports.models import Report
from tests.api_helpers import assert_error
from tests.factories import ActorFactory, AgreementFactory, ClauseFactory, UserFactory, make_violation

REPORTS = "/api/v1/reports/"
JOBS = "/api/v1/jobs/"
MAY = {"agreement": "memo", "from": "2019-05-01", "to": "2019-05-31"}
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": ["default"]}}
DATABASE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture
def immediate(settings):
    """Tasks run inside the call that queues them."""
    settings.TASKS = IMMEDIATE


@pytest.fixture
def queued(settings):
    """Tasks wait in the database for a worker (what production does)."""
    settings.TASKS = DATABASE


def work_off() -> int:
    """Run every ready task as `manage.py db_worker` does (claim it, run it, record the outcome), in this process
    and this test's transaction. Returns how many ran."""
    worker = Worker(
        queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id="test-worker", excluded_queue_names=[],
    )  # fmt: skip
    ran = 0
    while (task := DBTaskResult.objects.ready().first()) is not None:
        task.claim(worker.worker_id)
        worker.run_task(task)
        ran += 1
    return ran


def run_again(job_id: str) -> dict:
    """Deliver a job's latest task once more, as a worker would after a lost acknowledgement."""
    task = DBTaskResult.objects.get(pk=Job.objects.get(pk=job_id).task_id)
    return task.task.call(TaskContext(task_result=task.task_result), job_id)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def memo(db):
    agreement = AgreementFactory(slug="memo", short_title="Zone memorandum")
    clause = ClauseFactory(agreement=agreement, number="1", title="Ceasefire", kind="ceasefire")
    army = ActorFactory(name="Army", slug="army")
    reporter = UserFactory(username="reporter", role="monitor")
    for day in (6, 7, 8):
        make_violation(
            user=reporter,
            agreement=agreement,
            clauses=[clause],
            perpetrators=[army],
            started_at=datetime(2019, 5, day, tzinfo=UTC),
            description=f"Shelling of the market on {day} May.",
        )
    return {"agreement": agreement, "clause": clause, "army": army}


# --- reports ----------------------------------------------------------------------------------------------------


def test_an_async_report_answers_202_and_its_job_links_to_the_report(api, memo, immediate):
    client = api.client("analyst")

    response = client.post(f"{REPORTS}?async=1", MAY, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    job = Job.objects.get()
    assert response["Location"] == f"{JOBS}{job.pk}/"
    assert body["id"] == str(job.pk) and body["kind"] == "report" and body["requested_by"] == "analyst"
    report = Report.objects.get()
    polled = client.get(response["Location"]).json()
    assert polled["state"] == "succeeded"
    assert polled["result"]["report"] == report.pk and polled["result"]["created"] is True
    assert polled["result_url"] == f"http://testserver{REPORTS}{report.pk}/"
    assert polled["progress"] == {"done": 1, "total": 1, "percent": 100, "message": "Done."}
    assert polled["error"] == "" and polled["attempts"] == 1
    assert polled["started_at"] and polled["finished_at"]
    assert report.issued_by == api.user("analyst")
    assert client.get(polled["result_url"]).json()["sha256"] == report.sha256


def test_prefer_respond_async_also_asks_for_a_job(api, memo, immediate):
    response = api.client("analyst").post(REPORTS, MAY, format="json", HTTP_PREFER="respond-async, wait=10")

    assert response.status_code == 202
    assert response["Preference-Applied"] == "respond-async"
    assert Job.objects.get().state == JobState.SUCCEEDED


def test_without_asking_a_report_is_issued_in_the_request_as_before(api, memo, queued):
    response = api.client("analyst").post(f"{REPORTS}?async=0", MAY, format="json", HTTP_PREFER="respond-async")

    assert response.status_code == 201
    assert Report.objects.count() == 1 and not Job.objects.exists()


def test_an_async_report_is_checked_before_any_job_is_queued(api, memo, queued):
    response = api.client("analyst").post(f"{REPORTS}?async=1", {**MAY, "to": "2019-04-01"}, format="json")

    assert_error(response, 400, fields={"to"})
    assert not Job.objects.exists() and not DBTaskResult.objects.exists()


def test_with_the_database_backend_the_job_waits_in_the_queue(api, memo, queued):
    response = api.client("analyst").post(f"{REPORTS}?async=1", MAY, format="json")

    assert response.status_code == 202
    job = Job.objects.get()
    task = DBTaskResult.objects.get()
    assert job.state == JobState.QUEUED and job.task_id == str(task.id)
    assert task.task_path == "reports.jobs.issue_report_job" and task.args_kwargs["args"] == [str(job.pk)]
    assert response.json()["result_url"] is None and not Report.objects.exists()


def test_a_job_that_fails_keeps_no_half_written_report_and_says_why(api, memo, immediate, monkeypatch):
    from reports import jobs as report_jobs

    real = report_jobs.report_get_or_issue

    def issue_then_break(**kwargs):
        real(**kwargs)  # the report row is written …
        raise RuntimeError("the disk caught fire")  # … and the job fails before it ends

    monkeypatch.setattr(report_jobs, "report_get_or_issue", issue_then_break)

    response = api.client("analyst").post(f"{REPORTS}?async=1", MAY, format="json")

    job = Job.objects.get(pk=response.json()["id"])
    assert job.state == JobState.FAILED
    assert "failed unexpectedly (RuntimeError)" in job.error and job.task_id in job.error
    assert "disk caught fire" not in job.error, "internals are for the administrators, not the API"
    assert job.result is None and job.finished_at is not None
    assert not Report.objects.exists(), "the report written before the failure was rolled back"


def test_a_job_refused_for_its_input_fails_with_the_reason_and_is_not_retried(api, memo, queued):
    api.client("analyst").post(f"{REPORTS}?async=1", {**MAY, "actor": "army"}, format="json")
    memo["army"].slug = "army-renamed"
    memo["army"].save()

    assert work_off() == 1

    job = Job.objects.get()
    assert job.state == JobState.FAILED and job.attempts == 1
    assert job.error == "There is no actor 'army' any more."
    assert DBTaskResult.objects.get().status == "SUCCESSFUL", "an expected failure is the job's, not the queue's"


def test_a_transient_database_error_is_retried_and_the_retry_succeeds(api, memo, immediate, monkeypatch):
    from reports import jobs as report_jobs

    real, calls = report_jobs.report_get_or_issue, []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("could not serialize access due to concurrent update")
        return real(**kwargs)

    monkeypatch.setattr(report_jobs, "report_get_or_issue", flaky)

    response = api.client("analyst").post(f"{REPORTS}?async=1", MAY, format="json")

    job = Job.objects.get(pk=response.json()["id"])
    assert job.state == JobState.SUCCEEDED and job.attempts == 2 and len(calls) == 2
    assert job.result["report"] == Report.objects.get().pk


def test_a_retry_waits_in_the_queue_with_a_delay(api, memo, queued, settings, monkeypatch):
    from reports import jobs as report_jobs

    settings.JOB_RETRY_DELAY_SECONDS = 30

    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(report_jobs, "report_get_or_issue", locked)
    api.client("analyst").post(f"{REPORTS}?async=1", MAY, format="json")

    assert work_off() == 1, "the retry is not ready yet"

    job = Job.objects.get()
    assert job.state == JobState.QUEUED and job.attempts == 1
    assert "Attempt 1 failed (OperationalError)" in job.progress_message
    retry = DBTaskResult.objects.exclude(pk=DBTaskResult.objects.order_by("enqueued_at").first().pk).get()
    assert job.task_id == str(retry.id)
    assert 25 <= (retry.run_after - datetime.now(UTC)).total_seconds() <= 30
    assert not DBTaskResult.objects.ready().filter(pk=retry.pk).exists(), "not before its delay"
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=datetime.now(UTC))
    monkeypatch.undo()
    assert work_off() == 1
    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.attempts == 2 and Report.objects.count() == 1


def test_a_job_gives_up_after_its_attempts_and_reports_the_failure(api, memo, immediate, settings, monkeypatch):
    from reports import jobs as report_jobs

    settings.JOB_MAX_ATTEMPTS = 3

    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(report_jobs, "report_get_or_issue", locked)

    job_id = api.client("analyst").post(f"{REPORTS}?async=1", MAY, format="json").json()["id"]

    job = Job.objects.get(pk=job_id)
    assert job.state == JobState.FAILED and job.attempts == 3
    assert job.error.startswith("The database failed 3 times running this job (OperationalError)")


def test_a_task_delivered_twice_runs_the_job_once(api, memo, queued):
    job_id = api.client("analyst").post(f"{REPORTS}?async=1", MAY, format="json").json()["id"]

    assert work_off() == 1
    again = run_again(job_id)

    assert again == {"job": job_id, "state": "succeeded", "ran": False}
    assert Report.objects.count() == 1 and Job.objects.get().attempts == 1


def test_a_job_does_not_run_for_someone_who_lost_the_permission_meanwhile(api, memo, queued):
    api.client("analyst").post(f"{REPORTS}?async=1", MAY, format="json")
    api.user("analyst").groups.clear()

    work_off()

    job = Job.objects.get()
    assert job.state == JobState.FAILED and "may no longer do this (reports.add_report)" in job.error
    assert not Report.objects.exists()


# --- reading jobs -----------------------------------------------------------------------------------------------


def test_people_see_their_own_jobs_and_the_admin_role_sees_everyones(api, memo, queued):
    mine = api.client("analyst").post(f"{REPORTS}?async=1", MAY, format="json").json()["id"]
    theirs = api.client("analyst", name="analyst2").post(f"{REPORTS}?async=1", MAY, format="json").json()["id"]

    analyst = api.client("analyst")
    assert [job["id"] for job in analyst.get(JOBS).json()["results"]] == [mine]
    assert_error(analyst.get(f"{JOBS}{theirs}/"), 404)
    admin = api.client("admin")
    assert {job["id"] for job in admin.get(JOBS).json()["results"]} == {mine, theirs}
    assert admin.get(f"{JOBS}{theirs}/").json()["requested_by"] == "analyst2"
    assert admin.get(JOBS, {"mine": "true"}).json()["results"] == []
    assert_error(api.anonymous.get(f"{JOBS}{mine}/"), 401)


def test_the_job_list_is_newest_first_and_filters_by_kind_and_state(api, memo, queued):
    client = api.client("analyst")
    first = client.post(f"{REPORTS}?async=1", MAY, format="json").json()["id"]
    second = client.post(f"{REPORTS}?async=1", MAY, format="json").json()["id"]
    Job.objects.filter(pk=first).update(created_at=datetime(2020, 1, 1, tzinfo=UTC))

    assert [job["id"] for job in client.get(JOBS).json()["results"]] == [second, first]
    assert len(client.get(JOBS, {"kind": JobKind.REPORT, "state": "queued"}).json()["results"]) == 2
    assert client.get(JOBS, {"kind": JobKind.EXPORT}).json()["results"] == []
    assert client.get(JOBS, {"state": "failed"}).json()["results"] == []


# --- exports ----------------------------------------------------------------------------------------------------

VIOLATIONS = "/api/v1/violations/"


def exported_files(media) -> list:
    return sorted(path for path in (media / "exports").rglob("*") if path.is_file()) if media.exists() else []


def test_an_async_csv_export_writes_the_same_file_the_request_would_stream(api, memo, immediate, media):
    client = api.client("analyst")

    response = client.get(VIOLATIONS, {"format": "csv", "async": "1", "ordering": "started_at"})

    assert response.status_code == 202, response.content
    assert response["Content-Type"] == "application/json"
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == JobKind.EXPORT and job.state == JobState.SUCCEEDED, job.error
    assert job.result["rows"] == 3 and job.result["format"] == "csv"
    assert job.progress_done == job.progress_total == 3
    [stored] = exported_files(media)
    assert stored.parent.name == str(job.pk) and stored.parent.parent == media / "exports"
    download = client.get(client.get(response["Location"]).json()["result_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="{stored.name}"'
    body = b"".join(download.streaming_content)
    streamed = client.get(VIOLATIONS, {"format": "csv", "ordering": "started_at"})
    assert body == b"".join(streamed.streaming_content) == stored.read_bytes()
    assert body.decode("utf-8-sig").splitlines()[1].count("Shelling of the market on 6 May.") == 1


def test_an_async_export_applies_the_filters_and_columns_of_the_request(api, memo, immediate, media):
    client = api.client("analyst")

    response = client.get(
        VIOLATIONS, {"format": "csv", "columns": "acled", "occurred_after": "2019-05-07"}, HTTP_PREFER="respond-async"
    )

    job = Job.objects.get(pk=response.json()["id"])
    assert job.parameters["filters"] == {"occurred_after": ["2019-05-07"]} and job.result["rows"] == 2
    lines = exported_files(media)[0].read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("event_id_cnty,event_date") and len(lines) == 3


def test_an_async_export_with_a_bad_filter_is_refused_before_any_job(api, memo, queued):
    response = api.client("analyst").get(VIOLATIONS, {"format": "csv", "async": "1", "in_zone": "maybe"})

    assert_error(response, 400, fields={"in_zone"})
    assert not Job.objects.exists()


def test_only_the_person_who_asked_downloads_an_export(api, memo, immediate, media):
    job_id = api.client("analyst").get(VIOLATIONS, {"format": "xlsx", "async": "1"}).json()["id"]
    download = f"{JOBS}{job_id}/download/"

    assert api.client("analyst").get(download).status_code == 200
    assert_error(api.client("analyst", name="analyst2").get(download), 404)
    assert_error(api.client("admin").get(download), 403)
    assert_error(api.anonymous.get(download), 401)
    api.user("analyst").groups.clear()
    assert_error(api.client("analyst").get(download), 403)


def test_a_too_large_xlsx_export_fails_with_the_reason_and_stores_nothing(api, memo, immediate, media, settings):
    settings.API_XLSX_MAX_ROWS = 2

    job_id = api.client("analyst").get(VIOLATIONS, {"format": "xlsx", "async": "1"}).json()["id"]

    job = api.client("analyst").get(f"{JOBS}{job_id}/").json()
    assert job["state"] == "failed" and job["result_url"] is None and job["result"] is None
    assert job["error"].startswith("More than 2 violations match") and "XLSX" in job["error"]
    assert exported_files(media) == []
    assert_error(api.client("analyst").get(f"{JOBS}{job_id}/download/"), 404)


def test_a_failed_export_removes_the_file_it_had_stored(api, memo, immediate, media, monkeypatch):
    from compliance.jobs.running import JobContext

    real = JobContext.save_output

    def save_then_break(self, filename, content):
        real(self, filename, content)
        raise RuntimeError("lost the storage")

    monkeypatch.setattr(JobContext, "save_output", save_then_break)

    job_id = api.client("analyst").get(VIOLATIONS, {"format": "geojson", "async": "1"}).json()["id"]

    job = Job.objects.get(pk=job_id)
    assert job.state == JobState.FAILED and not job.output_file
    assert exported_files(media) == [], "no half-written result is left in storage"


@pytest.mark.django_db(transaction=True)
def test_progress_is_seen_outside_the_transaction_of_the_job_on_postgresql_only():
    from compliance.jobs.progress import ProgressWriter

    job = Job.objects.create(
        kind=JobKind.EXPORT, requested_by=UserFactory(), state=JobState.RUNNING, started_at=datetime.now(UTC)
    )
    writer = ProgressWriter(job.pk)
    try:
        with transaction.atomic():
            Report.objects.exists()  # the job's transaction has begun and read

            written = writer.write(done=5, total=10, message="Half way.")

            seen = Job.objects.values_list("progress_done", "progress_total", "progress_message").get()
            transaction.set_rollback(True)
    finally:
        writer.close()
    if connection.vendor == "postgresql":
        assert written and seen == (5, 10, "Half way.")
        assert Job.objects.values_list("progress_done", flat=True).get() == 5, "kept though the work rolled back"
    else:
        # A second writer would make the job's own last write fail on SQLite (see compliance/jobs/progress.py).
        assert not written and seen == (0, None, "")
    writer.write(done=7, total=10, message="Outside a transaction.")
    assert Job.objects.values_list("progress_done", "progress_message").get() == (7, "Outside a transaction.")


# --- imports (the admin page) -------------------------------------------------------------------------------------

DATA = Path(__file__).resolve().parent / "data"
GOOD = DATA / "acled_sochi_good.csv"  # five good rows
ONE_BAD_ROW = DATA / "acled_sochi_one_bad_row.csv"
IMPORT_URL = "admin:agreements_violation_import"


@pytest.fixture
def sochi(db):
    call_command("load_sochi", stdout=io.StringIO())


@pytest.fixture
def monitor(db):
    user = UserFactory(username="monitor-importer", is_staff=True)
    user.groups.add(Group.objects.get(name="monitor"))
    return user


def preview(client, path: Path) -> str:
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="text/csv")
    response = client.post(reverse(IMPORT_URL), {"file": upload, "agreement": "sochi-2018", "dry_run": "on"})
    assert response.status_code == 200 and response.context["token"], response.content[:500]
    return response.context["token"]


def stored_uploads(media) -> list:
    return [path for path in (media / "imports").rglob("*") if path.is_file()] if media.exists() else []


def test_the_admin_imports_in_the_background_when_asked(
    sochi, monitor, client, immediate, media, django_capture_on_commit_callbacks
):
    client.force_login(monitor)
    before = Violation.objects.count()
    token = preview(client, GOOD)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse(IMPORT_URL), {"token": token, "background": "1"})

    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("admin:compliance_job_change", args=[job.pk])
    assert job.kind == JobKind.IMPORT and job.state == JobState.SUCCEEDED, job.error
    assert job.result["violations"] == 5 and len(job.result["violation_ids"]) == 5
    assert Violation.objects.count() == before + 5 == Violation.objects.filter(reported_by=monitor).count() + before
    assert job.progress_done == job.progress_total == 5
    assert not job.input_file and stored_uploads(media) == [], "the upload is not kept once imported"
    page = client.get(response["Location"]).content.decode()
    assert "5 violations imported" in page and "data-job-poll-url" not in page


def test_a_large_file_is_imported_by_a_worker_and_its_page_follows_the_job(
    sochi, monitor, client, queued, media, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_INLINE_MAX_ROWS = 3
    client.force_login(monitor)
    token = preview(client, GOOD)

    response = client.post(reverse(IMPORT_URL), {"token": token})

    job = Job.objects.get()
    assert job.state == JobState.QUEUED and job.parameters == {"agreement": "sochi-2018", "file_name": GOOD.name}
    assert [path.name for path in stored_uploads(media)] == [GOOD.name]
    page = client.get(response["Location"]).content.decode()
    assert f'data-job-poll-url="/api/v1/jobs/{job.pk}/"' in page and "job_progress.js" in page
    polled = client.get(f"{JOBS}{job.pk}/")  # what the page's script reads, with the admin session
    assert polled.status_code == 200 and polled.json()["state"] == "queued"

    with django_capture_on_commit_callbacks(execute=True):
        assert work_off() == 1

    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED and job.result["violations"] == 5
    assert (job.progress_done, job.progress_total) == (5, 5) and stored_uploads(media) == []
    assert "data-job-poll-url" not in client.get(response["Location"]).content.decode()


def test_an_import_job_with_bad_rows_imports_nothing_and_lists_the_errors(
    sochi, monitor, immediate, media, django_capture_on_commit_callbacks
):
    before = Violation.objects.count()

    with ONE_BAD_ROW.open("rb") as file, django_capture_on_commit_callbacks(execute=True):
        job = import_job_start(file=file, file_name=ONE_BAD_ROW.name, agreement="sochi-2018", user=monitor)

    assert job.state == JobState.FAILED and job.result is None
    lines = job.error.splitlines()
    assert lines[0] == "Nothing was imported: 1 row with errors."
    assert lines[1].startswith("row 4: actor1: no actor named 'Wagner Group'")
    assert Violation.objects.count() == before and stored_uploads(media) == []


def test_the_admin_lists_my_jobs_and_hides_other_peoples(sochi, monitor, client, queued, media):
    other = UserFactory(username="other-monitor", is_staff=True)
    other.groups.add(Group.objects.get(name="monitor"))
    with GOOD.open("rb") as file:
        mine = import_job_start(file=file, file_name="mine.csv", agreement="sochi-2018", user=monitor)
    with GOOD.open("rb") as file:
        theirs = import_job_start(file=file, file_name="theirs.csv", agreement="sochi-2018", user=other)
    client.force_login(monitor)

    listing = client.get(reverse("admin:compliance_job_changelist"))

    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [mine]
    assert client.get(reverse("admin:compliance_job_change", args=[theirs.pk])).status_code == 302
    assert reverse("admin:compliance_job_changelist") in client.get(reverse("admin:index")).content.decode()


# --- the whole path, with a worker process ----------------------------------------------------------------------


def run_worker(tmp_path, media) -> subprocess.CompletedProcess:
    """`manage.py db_worker --batch` in its own process, on this test's database: it runs every queued task, then
    exits. SQLite tests run on an in-memory database, which another process cannot open: it is copied to a file
    for the worker, and copied back once the worker is done."""
    env = {**os.environ, "MEDIA_ROOT": str(media), "TASKS_BACKEND": "django_tasks_db.DatabaseBackend"}
    connection.ensure_connection()
    copy = tmp_path / "worker.sqlite3"
    if connection.vendor == "sqlite":
        with sqlite3.connect(copy) as target:
            connection.connection.backup(target)
        env["DATABASE_URL"] = f"sqlite:///{copy}"
    else:
        db = connection.settings_dict
        credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        env["DATABASE_URL"] = f"postgres://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    done = subprocess.run(
        [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay", "--no-reload", "--interval", "0"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if connection.vendor == "sqlite":
        with closing(sqlite3.connect(copy)) as source:
            source.backup(connection.connection)
    return done


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_runs_the_queued_jobs_and_the_api_shows_their_results(memo, queued, media, tmp_path):
    # A superuser: the role groups come from migrations, and an earlier transactional test may have flushed them.
    boss = UserFactory(username="boss", is_superuser=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=boss, name='worker test')[1]}")
    report = client.post(f"{REPORTS}?async=1", MAY, format="json")
    export = client.get(VIOLATIONS, {"format": "csv", "async": "1", "ordering": "started_at"})
    assert report.status_code == export.status_code == 202
    assert {job["state"] for job in client.get(JOBS).json()["results"]} == {"queued"}

    worker = run_worker(tmp_path, media)

    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert "failed" not in worker.stdout + worker.stderr, worker.stdout + worker.stderr
    report_job = client.get(report["Location"]).json()
    assert report_job["state"] == "succeeded", report_job["error"]
    issued = Report.objects.get()
    assert report_job["result"]["report"] == issued.pk and issued.issued_by == boss
    assert client.get(report_job["result_url"]).json()["title"].startswith("Compliance with the Zone memorandum")
    export_job = client.get(export["Location"]).json()
    assert export_job["state"] == "succeeded", export_job["error"]
    assert export_job["progress"] == {"done": 3, "total": 3, "percent": 100, "message": "Done."}
    downloaded = b"".join(client.get(export_job["result_url"]).streaming_content)
    streamed = b"".join(client.get(VIOLATIONS, {"format": "csv", "ordering": "started_at"}).streaming_content)
    assert downloaded == streamed and downloaded.count(b"Shelling of the market") == 3
    tasks = DBTaskResult.objects.all()
    assert {task.status for task in tasks} == {"SUCCESSFUL"} and all(task.worker_ids for task in tasks)
