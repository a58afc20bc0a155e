"""Jobs nobody else will finish or clear away: attempts whose worker died, and old finished jobs.

A worker killed mid-job (out of memory, a deploy, a lost machine) leaves its job "running" for ever: its
transaction was rolled back by the database, so nothing of it was kept, but the row still says running and the
person who asked keeps waiting. A running job whose last sign of life (its claim or a progress write) is older than
JOB_STALE_MINUTES is failed with that explanation. Progress on PostgreSQL is written while the job runs, so a long
job stays alive; on SQLite it is written only at the end, so the limit must exceed the longest job there.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from compliance.jobs.models import FINISHED_STATES, Job, JobState


def fail_stale(now=None) -> int:
    """Fail the running jobs that showed no sign of life for JOB_STALE_MINUTES; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.JOB_STALE_MINUTES)
    stale = Job.objects.filter(state=JobState.RUNNING).alias(alive=Coalesce("heartbeat_at", "started_at"))
    return stale.filter(Q(alive__lt=cutoff) | Q(alive__isnull=True)).update(
        state=JobState.FAILED,
        finished_at=now,
        progress_message="Failed.",
        error=f"The worker running this job stopped (no sign of life for {settings.JOB_STALE_MINUTES} minutes); "
        "nothing of it was kept. Ask again.",
    )


def prune_finished(now=None) -> int:
    """Delete finished jobs older than JOB_KEEP_DAYS with their files; returns how many."""
    now = now or timezone.now()
    old = Job.objects.filter(state__in=FINISHED_STATES, finished_at__lt=now - timedelta(days=settings.JOB_KEEP_DAYS))
    deleted = 0
    for job in old.iterator():
        for file in (job.output_file, job.input_file):
            if file.name:
                file.storage.delete(file.name)
        job.delete()
        deleted += 1
    return deleted
