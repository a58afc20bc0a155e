"""Jobs in the admin: everyone on the admin site sees their own jobs (the admin role everyone's), read-only. A job's
page shows a progress bar that follows the job (compliance/static/compliance/job_progress.js polls
/api/v1/jobs/{id}/ with the admin session) and reloads the page when the job is done."""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from compliance.jobs.api import result_link, visible_jobs
from compliance.jobs.models import Job, JobKind, JobState


def progress_bar(job: Job):
    if job.state == JobState.FAILED:
        return format_html('<strong style="color:var(--error-fg,#ba2121)">{}</strong>', "Failed")
    percent = job.percent
    total = "?" if job.progress_total is None else job.progress_total
    return format_html(
        '<progress max="100" {}></progress> <span class="job-progress-text">{} / {}</span>',
        format_html('value="{}"', percent) if percent is not None else "",
        job.progress_done,
        total,
    )


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["short_id", "kind", "state", "progress", "requested_by", "created_at", "finished_at", "outcome"]
    list_filter = ["kind", "state", "created_at"]
    list_select_related = ["requested_by"]
    search_fields = ["id", "requested_by__username", "error"]
    date_hierarchy = "created_at"
    list_per_page = 50
    fields = [
        "kind",
        "state",
        "progress",
        "progress_message",
        "requested_by",
        "parameters_shown",
        "outcome",
        "result_shown",
        "error_shown",
        "attempts",
        "task_id",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields

    class Media:
        js = ["compliance/job_progress.js"]

    def get_queryset(self, request):
        return visible_jobs(request.user)

    # Anyone who may use the admin follows their own jobs (which rows, the queryset says); nobody edits them.
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "job_poll_url": reverse("job-detail", kwargs={"pk": job.pk}) if job and not job.is_finished else "",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="job", ordering="created_at")
    def short_id(self, obj):
        return str(obj.pk)[:8]

    @admin.display(description="progress")
    def progress(self, obj):
        return progress_bar(obj)

    @admin.display(description="parameters")
    def parameters_shown(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.parameters, indent=2, ensure_ascii=False))

    @admin.display(description="result data")
    def result_shown(self, obj):
        if obj.result is None:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(obj.result, indent=2, ensure_ascii=False))

    @admin.display(description="error")
    def error_shown(self, obj):
        return format_html("<pre>{}</pre>", obj.error) if obj.error else "—"

    @admin.display(description="result")
    def outcome(self, obj):
        if obj.state != JobState.SUCCEEDED:
            return "—"
        if obj.kind == JobKind.REPORT:
            return format_html(
                '<a href="{}">Report {}</a>',
                reverse("admin:reports_report_change", args=[obj.result["report"]]),
                obj.result["report"],
            )
        if obj.kind == JobKind.EXPORT:
            return format_html(
                '<a href="{}">{}</a> ({} rows)', result_link(obj), obj.result["filename"], obj.result["rows"]
            )
        if obj.kind == JobKind.IMPORT:
            return format_html(
                '<a href="{}">{} violations imported</a> ({} new sources)',
                reverse("admin:agreements_violation_changelist"),
                obj.result["violations"],
                obj.result["new_sources"],
            )
        return "—"
