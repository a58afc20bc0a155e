"""A background job as people see it: what was asked and by whom, where it stands, and what came of it.

The task queue (django-tasks, `DBTaskResult` rows of django-tasks-db) knows how to run a function later; it does not
know who asked, how far along the work is, or which report or file it produced, and its rows belong to whichever
backend is configured (the immediate backend keeps none). A `Job` holds that, whatever the backend: the API and the
admin read jobs only. `task_id` names the queue's entry of the latest attempt, for the administrators.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class JobKind(models.TextChoices):
    REPORT = "report", "Issue a report"
    EXPORT = "export", "Export violations"
    IMPORT = "import", "Import violations"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED)


def _job_file_path(folder: str, job: "Job", filename: str) -> str:
    # The job's random id in the path: a stored file's name cannot be guessed from another's.
    return f"{folder}/{job.pk}/{filename}"


def input_file_path(job: "Job", filename: str) -> str:
    return _job_file_path("imports", job, filename)


def output_file_path(job: "Job", filename: str) -> str:
    return _job_file_path("exports", job, filename)


class Job(models.Model):
    # A UUID rather than a counter: job URLs are handed around (Location headers, admin links) and should not let
    # anyone count or guess other people's jobs.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    parameters = models.JSONField(default=dict, blank=True, help_text="What was asked, as the job reads it.")
    input_file = models.FileField(upload_to=input_file_path, max_length=300, blank=True)

    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: not known (yet).")
    progress_message = models.CharField(max_length=200, blank=True)

    result = models.JSONField(null=True, blank=True, help_text="What the job made; set only when it succeeded.")
    output_file = models.FileField(upload_to=output_file_path, max_length=300, blank=True)
    error = models.TextField(blank=True, help_text="Why the job failed, for the person who asked.")
    attempts = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True, help_text="The task queue's id of the latest attempt.")

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="The last sign of life of the attempt running it (claim or progress)."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("view_all_jobs", "Can see everyone's jobs")]
        indexes = [models.Index(fields=["requested_by", "-created_at"], name="compliance_job_mine_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=JobKind.values),
                name="compliance_job_kind_valid",
                violation_error_message="Unknown job kind.",
            ),
            models.CheckConstraint(
                condition=Q(state__in=JobState.values),
                name="compliance_job_state_valid",
                violation_error_message="Unknown job state.",
            ),
            models.CheckConstraint(
                condition=Q(progress_total__isnull=True) | Q(progress_done__lte=F("progress_total")),
                name="compliance_job_progress_within_total",
                violation_error_message="Progress cannot pass its total.",
            ),
            models.CheckConstraint(
                condition=Q(state=JobState.QUEUED) | Q(started_at__isnull=False),
                name="compliance_job_started_when_not_queued",
                violation_error_message="A job that left the queue has a start time.",
            ),
            models.CheckConstraint(
                condition=Q(state__in=FINISHED_STATES, finished_at__isnull=False)
                | (~Q(state__in=FINISHED_STATES) & Q(finished_at__isnull=True)),
                name="compliance_job_finished_iff_done",
                violation_error_message="A job has a finish time exactly when it succeeded or failed.",
            ),
            models.CheckConstraint(
                condition=~Q(state=JobState.FAILED) | ~Q(error=""),
                name="compliance_job_failure_has_error",
                violation_error_message="A failed job says why.",
            ),
            models.CheckConstraint(
                condition=Q(state=JobState.SUCCEEDED) | Q(result__isnull=True),
                name="compliance_job_result_only_when_succeeded",
                violation_error_message="Only a job that succeeded has a result.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_state_display().lower()}, {str(self.pk)[:8]})"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def percent(self) -> int | None:
        if self.state == JobState.SUCCEEDED:
            return 100
        if not self.progress_total:
            return None
        return min(100, (100 * self.progress_done) // self.progress_total)
