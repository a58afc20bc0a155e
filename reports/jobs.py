"""Issuing a report as a background job: `POST /api/v1/reports/?async=1` (or with `Prefer: respond-async`) answers
202 at once, and a worker builds and freezes the report through `reports.issuing`, as the synchronous POST does.
The job's result names the report (`{"report": id, "created": bool, ...}`); an identical report issued before is
the result rather than a second copy, which is also why a retried attempt cannot issue the report twice."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django_tasks import task

from agreements.models import Actor, Agreement
from compliance.jobs.models import Job, JobKind
from compliance.jobs.running import JobContext, JobFailed, job_run, job_start
from reports.issuing import report_get_or_issue


@task(takes_context=True)
def issue_report_job(context, job_id: str) -> dict:
    return job_run(job_id, _issue, context=context)


def report_job_start(*, agreement: Agreement, start: date, end: date, actor: Actor | None, formats, user) -> Job:
    """Queue the issuing of a report; what `report_get_or_issue` takes, kept as the job's parameters."""
    parameters = {
        "agreement": agreement.slug,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "actor": actor.slug if actor is not None else None,
        "formats": list(formats) if formats else None,
    }
    return job_start(kind=JobKind.REPORT, task=issue_report_job, user=user, parameters=parameters)


def _issue(job: Job, context: JobContext) -> dict:
    parameters = job.parameters
    agreement = Agreement.objects.filter(slug=parameters["agreement"]).first()
    if agreement is None:
        raise JobFailed(f"There is no agreement {parameters['agreement']!r} any more.")
    actor = None
    if parameters.get("actor"):
        actor = Actor.objects.filter(slug=parameters["actor"]).first()
        if actor is None:
            raise JobFailed(f"There is no actor {parameters['actor']!r} any more.")
    context.progress(0, 1, "Building the report from the record.")
    try:
        report, created = report_get_or_issue(
            agreement=agreement,
            start=date.fromisoformat(parameters["from"]),
            end=date.fromisoformat(parameters["to"]),
            actor=actor,
            user=job.requested_by,
            formats=parameters.get("formats"),
        )
    except (ValidationError, ValueError) as exc:
        raise JobFailed(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
    return {"report": report.pk, "created": created, "title": report.title, "sha256": report.sha256}
