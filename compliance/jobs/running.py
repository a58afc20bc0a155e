"""Starting and running jobs: the one write path for `Job` rows.

    job = job_start(kind=JobKind.EXPORT, task=export_violations_job, user=request.user, parameters={...})

creates the job and queues its task in one transaction (with the database backend the worker cannot see the task
before the job exists). A job's task is a module-level function decorated with django-tasks' `@task()` that hands
its work to `job_run`:

    @task(takes_context=True)
    def export_violations_job(context, job_id: str) -> dict:
        return job_run(job_id, _export, context=context)

`job_run` claims the job (queued → running: a task delivered twice runs once), checks that the person who asked
may still do it, then calls `work(job, context)` inside one transaction and marks the job succeeded with the
work's result in that same transaction. If anything fails, the transaction is rolled back, any file the work
stored is deleted, and the job is marked failed with a message for the person who asked: a failed job leaves no
half-written report, export or import behind.

Failures:
- `JobFailed` (bad input, a file with errors): failed with its message, not retried (it would fail again).
- a transient database error (`OperationalError`, `InterfaceError`: lost connection, lock timeout, deadlock or
  serialization failure): queued again while attempts remain (`JOB_MAX_ATTEMPTS`), the n-th retry after
  n × `JOB_RETRY_DELAY_SECONDS`. Every kind of job is safe to retry because an attempt that failed left nothing:
  a report is found again by its content hash, an export writes a new file, an import is all or nothing.
- anything else is a bug: failed at once with a generic message, and re-raised so the worker logs it and the task
  queue keeps its traceback (retrying would repeat it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections, transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import TaskContext

from compliance.jobs.models import Job, JobKind, JobState, output_file_path
from compliance.jobs.progress import ProgressWriter

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, InterfaceError)

# What the person who asked must still be allowed to do when the job runs (it may run long after it was asked).
KIND_PERMISSIONS = {
    JobKind.REPORT: "reports.add_report",
    JobKind.EXPORT: "agreements.view_violation",
    JobKind.IMPORT: "agreements.add_violation",
}

# Progress is written at most this often (and at the start and end of a job).
PROGRESS_INTERVAL_SECONDS = 0.5
MAX_ERROR_CHARS = 20_000


class JobFailed(Exception):
    """The job cannot do what was asked; `message` tells the person who asked why. Not retried."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def job_start(*, kind: str, task, user, parameters: dict, input_file=None, input_name: str = "") -> Job:
    """Record a job for `user` and queue `task` (called with the job's id). `input_file`: a file the job reads,
    stored with it (imports)."""
    job = Job(kind=kind, requested_by=user, parameters=parameters)
    try:
        with transaction.atomic():
            if input_file is not None:
                job.input_file.save(input_name or "upload", File(input_file), save=False)
            job.save()
            queued = task.enqueue(str(job.pk))
            Job.objects.filter(pk=job.pk).update(task_id=str(queued.id))
    except BaseException:
        if job.input_file.name:
            job.input_file.storage.delete(job.input_file.name)
        raise
    job.refresh_from_db()
    return job


class JobContext:
    """What a job's work gets besides the job: progress reporting and storing its output file."""

    def __init__(self, job: Job):
        self.job = job
        self.done = 0
        self.total: int | None = None
        self.message = ""
        self.output_name = ""
        self._writer = ProgressWriter(job.pk)
        self._written_at = 0.0

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Say how far the work is: `done` of `total` (None: not known), with an optional message."""
        self.done, self.total = done, total if total is not None else self.total
        if self.total is not None:
            self.done = min(self.done, self.total)
        if message is not None:
            self.message = message[:200]
        now = time.monotonic()
        if now - self._written_at >= PROGRESS_INTERVAL_SECONDS or done == self.total or message is not None:
            self._written_at = now
            self._writer.write(done=self.done, total=self.total, message=self.message)

    def save_output(self, filename: str, content) -> str:
        """Store the job's output file (a file object, read from the start); returns its storage name. Deleted
        again if the job does not succeed."""
        storage = Job._meta.get_field("output_file").storage
        self.output_name = storage.save(output_file_path(self.job, filename), File(content))
        return self.output_name

    def discard_output(self) -> None:
        if self.output_name:
            Job._meta.get_field("output_file").storage.delete(self.output_name)
            self.output_name = ""

    def close(self) -> None:
        self._writer.close()


def job_run(job_id: str, work: Callable[[Job, JobContext], dict], *, context: TaskContext) -> dict:
    """Run a queued job's `work` (see the module's docstring) for the task whose `context` is given. Returns what
    the task queue keeps as its result."""
    task = context.task_result.task
    claimed = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        attempts=F("attempts") + 1,
        progress_message="Started.",
        task_id=str(context.task_result.id),
    )
    if not claimed:
        # Gone, or already taken by another delivery of the task: that one does the work.
        state = Job.objects.filter(pk=job_id).values_list("state", flat=True).first()
        logger.info("Job %s not run: it is %s.", job_id, state or "gone")
        return {"job": str(job_id), "state": state, "ran": False}
    job = Job.objects.select_related("requested_by").get(pk=job_id)
    job_context = JobContext(job)
    try:
        _check_allowed(job)
        with transaction.atomic():
            result = work(job, job_context)
            _finish(job, job_context, state=JobState.SUCCEEDED, result=result)
    except JobFailed as exc:
        job_context.discard_output()
        _fail(job, job_context, exc.message)
        return {"job": str(job.pk), "state": JobState.FAILED}
    except TRANSIENT_ERRORS as exc:
        job_context.discard_output()
        _reset_broken_connection()
        if job.attempts < settings.JOB_MAX_ATTEMPTS:
            logger.warning("Job %s attempt %s failed (%r); queued again.", job.pk, job.attempts, exc)
            _retry(job, task, exc)
            return {"job": str(job.pk), "state": JobState.QUEUED, "retried_after": type(exc).__name__}
        _fail(
            job,
            job_context,
            f"The database failed {job.attempts} times running this job ({type(exc).__name__}); nothing was kept. "
            "Try again later.",
        )
        raise
    except Exception as exc:
        job_context.discard_output()
        _reset_broken_connection()
        _fail(
            job,
            job_context,
            f"The job failed unexpectedly ({type(exc).__name__}); nothing was kept. The administrators can see "
            f"the details under task {job.task_id or '?'}.",
        )
        raise
    finally:
        job_context.close()
    return {"job": str(job.pk), "state": JobState.SUCCEEDED, "result": result}


def _check_allowed(job: Job) -> None:
    user = job.requested_by
    permission = KIND_PERMISSIONS[job.kind]
    if not user.is_active or not user.has_perm(permission):
        raise JobFailed(f"{user} may no longer do this ({permission}), so the job did not run.")


def _finish(job: Job, context: JobContext, *, state: str, result: dict | None = None, error: str = "") -> None:
    done = context.total if state == JobState.SUCCEEDED and context.total is not None else context.done
    changes = {
        "state": state,
        "result": result,
        "error": error[:MAX_ERROR_CHARS],
        "finished_at": timezone.now(),
        "progress_done": done,
        "progress_total": context.total,
        "progress_message": "Done." if state == JobState.SUCCEEDED else "Failed.",
        "output_file": context.output_name,
    }
    if job.input_file.name:
        # The uploaded file has served its purpose whatever the outcome (it is not kept as a second copy of the
        # data); removed once this is committed, so an attempt rolled back can still be retried with it.
        storage, name = job.input_file.storage, job.input_file.name
        transaction.on_commit(lambda: storage.delete(name))
        changes["input_file"] = ""
    Job.objects.filter(pk=job.pk).update(**changes)


def _fail(job: Job, context: JobContext, message: str) -> None:
    _finish(job, context, state=JobState.FAILED, error=message)


def _retry(job: Job, task, exc: BaseException) -> None:
    delay = settings.JOB_RETRY_DELAY_SECONDS * job.attempts
    backend = task.get_backend()
    later = (
        task.using(run_after=timezone.now() + timedelta(seconds=delay)) if delay and backend.supports_defer else task
    )
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(
            state=JobState.QUEUED,
            progress_message=f"Attempt {job.attempts} failed ({type(exc).__name__}); trying again.",
        )
        queued = later.enqueue(str(job.pk))
        Job.objects.filter(pk=job.pk).update(task_id=str(queued.id))


def _reset_broken_connection() -> None:
    # After a lost connection nothing more can be written through it; a fresh one is opened on the next query.
    # Inside a caller's transaction (the immediate backend) the caller's rollback deals with it.
    connection = connections[DEFAULT_DB_ALIAS]
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
