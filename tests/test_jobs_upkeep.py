"""Jobs nobody else finishes: a running job whose worker died is failed with a reason; old finished jobs go,
with their files."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from compliance.jobs.models import Job, JobKind, JobState
from compliance.jobs.upkeep import fail_stale, prune_finished
from tests.factories import UserFactory


@pytest.fixture
def owner(db):
    return UserFactory(role="analyst")


def job(owner, *, state, minutes_ago=0, heartbeat_minutes_ago=None, finished_days_ago=None) -> Job:
    now = timezone.now()
    fields = {"kind": JobKind.EXPORT, "requested_by": owner, "state": state, "attempts": 1}
    if state != JobState.QUEUED:
        fields["started_at"] = now - timedelta(minutes=minutes_ago)
    if heartbeat_minutes_ago is not None:
        fields["heartbeat_at"] = now - timedelta(minutes=heartbeat_minutes_ago)
    if finished_days_ago is not None:
        fields["finished_at"] = now - timedelta(days=finished_days_ago)
        fields["result" if state == JobState.SUCCEEDED else "error"] = {} if state == JobState.SUCCEEDED else "x"
    return Job.objects.create(**fields)


def test_a_running_job_without_sign_of_life_is_failed_with_a_reason(owner, settings):
    settings.JOB_STALE_MINUTES = 60
    dead = job(owner, state=JobState.RUNNING, minutes_ago=300, heartbeat_minutes_ago=90)
    slow_but_alive = job(owner, state=JobState.RUNNING, minutes_ago=300, heartbeat_minutes_ago=5)
    just_started = job(owner, state=JobState.RUNNING, minutes_ago=2)
    queued = job(owner, state=JobState.QUEUED)

    assert fail_stale() == 1

    dead.refresh_from_db()
    assert dead.state == JobState.FAILED and dead.finished_at is not None
    assert "worker running this job stopped" in dead.error and "nothing of it was kept" in dead.error
    states = {j.pk: j.state for j in Job.objects.filter(pk__in=[slow_but_alive.pk, just_started.pk, queued.pk])}
    assert states == {slow_but_alive.pk: "running", just_started.pk: "running", queued.pk: "queued"}


def test_old_finished_jobs_are_deleted_with_their_files(owner, settings, tmp_path):
    settings.JOB_KEEP_DAYS = 30
    settings.MEDIA_ROOT = tmp_path
    old = job(owner, state=JobState.SUCCEEDED, finished_days_ago=45)
    old.output_file.save("old.csv", ContentFile(b"id\n1\n"))
    path = old.output_file.path
    recent = job(owner, state=JobState.FAILED, finished_days_ago=3)
    running = job(owner, state=JobState.RUNNING, minutes_ago=1)

    assert prune_finished() == 1

    assert not Job.objects.filter(pk=old.pk).exists()
    assert not (tmp_path / path).exists()
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}


def test_the_command_reports_both(owner, capsys):
    job(owner, state=JobState.RUNNING, minutes_ago=10_000, heartbeat_minutes_ago=10_000)
    call_command("jobs_upkeep")
    assert "1 stale job(s) failed" in capsys.readouterr().out
