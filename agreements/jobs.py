"""Violation exports and imports as background jobs (see compliance/jobs/).

Export: `GET /api/v1/violations/?format=csv&async=1` (or xlsx, geojson; or with `Prefer: respond-async`) answers 202
with a job; the worker selects the violations the same filters and ordering select in the API, writes the file
through `agreements.exports` to a temporary file, and only when it is complete stores it under
MEDIA_ROOT/exports/<job id>/. The job's result link downloads it, for the person who asked only.

Import: the admin's import page hands a previewed file to `import_job_start`; the worker runs
`agreements.importing.import_violations` on it (all or nothing), reporting each row as progress.
"""

from __future__ import annotations

import tempfile
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils import timezone
from django_tasks import task

from agreements import exports
from agreements.importing import ImportRefused, import_violations
from agreements.models import Violation
from compliance.api.filters import VIOLATION_ORDERING, VIOLATION_ORDERING_FIELDS, ViolationFilter
from compliance.jobs.models import Job, JobKind
from compliance.jobs.running import JobContext, JobFailed, job_run, job_start

EXPORT_FORMATS = {"csv": "csv", "xlsx": "xlsx", "geojson": "geojson"}
# Query parameters that shape the answer rather than choose the violations.
NOT_FILTERS = {"format", "async", "columns", "cursor", "page_size"}
# Rows written between two progress reports (the writer itself throttles by time too).
PROGRESS_EVERY = 200


# --- exports ----------------------------------------------------------------------------------------------------


@task(takes_context=True)
def export_violations_job(context, job_id: str) -> dict:
    return job_run(job_id, _export, context=context)


def export_job_start(*, query: QueryDict, fmt: str, columns: str, user) -> Job:
    """Queue an export of the violations `query` (the list's query parameters) selects, as `fmt` with `columns`."""
    filters = {key: query.getlist(key) for key in query if key not in NOT_FILTERS}
    parameters = {"format": fmt, "columns": columns, "filters": filters}
    return job_start(kind=JobKind.EXPORT, task=export_violations_job, user=user, parameters=parameters)


def violations_selected(filters: dict[str, list[str]]):
    """The violations GET /api/v1/violations/ lists for these query parameters, in the same order.

    Raises ValidationError naming the parameters it cannot read."""
    data = QueryDict(mutable=True)
    for key, values in filters.items():
        data.setlist(key, values)
    filterset = ViolationFilter(data=data, queryset=Violation.objects.all())
    if not filterset.is_valid():
        raise ValidationError({key: list(errors) for key, errors in filterset.errors.items()})
    # As DRF's ordering filter reads ?ordering=: known fields kept, the rest ignored, the default when none is left.
    terms = [term.strip() for term in data.get("ordering", "").split(",") if term.strip()]
    ordering = [term for term in terms if term.lstrip("-") in VIOLATION_ORDERING_FIELDS]
    return filterset.qs.order_by(*(ordering or VIOLATION_ORDERING))


def _export(job: Job, context: JobContext) -> dict:
    parameters = job.parameters
    fmt = parameters["format"]
    columns = exports.ACLED_COLUMNS if parameters.get("columns") == "acled" else exports.VIOLATION_COLUMNS
    try:
        queryset = violations_selected(parameters.get("filters", {}))
    except ValidationError as exc:
        raise JobFailed("The filters cannot be read: " + "; ".join(exc.messages)) from exc
    total = queryset.count()
    context.progress(0, total, f"Exporting {total} violations as {fmt.upper()}.")
    with tempfile.TemporaryFile() as out:
        if fmt == "csv":
            for written, line in enumerate(exports.iter_csv(queryset, columns)):
                out.write(line.encode("utf-8"))
                if written and written % PROGRESS_EVERY == 0:
                    context.progress(written, total)
        elif fmt == "xlsx":
            try:
                out.write(exports.xlsx_bytes(queryset, columns, max_rows=settings.API_XLSX_MAX_ROWS))
            except exports.ExportTooLarge as exc:
                raise JobFailed(str(exc)) from exc
        else:
            # Streamed feature by feature: memory stays flat however many violations match.
            for chunk in exports.iter_geojson(queryset, columns):
                out.write(chunk)
        context.progress(total, total, "Storing the file.")
        size = out.tell()
        out.seek(0)
        name = context.save_output(f"violations-{timezone.now():%Y%m%dT%H%M%SZ}.{EXPORT_FORMATS[fmt]}", out)
    return {
        "format": fmt,
        "columns": parameters.get("columns", "ours"),
        "rows": total,
        "bytes": size,
        "filename": PurePosixPath(name).name,
    }


# --- imports ----------------------------------------------------------------------------------------------------


@task(takes_context=True)
def import_violations_job(context, job_id: str) -> dict:
    return job_run(job_id, _import, context=context)


def import_job_start(*, file, file_name: str, agreement, user) -> Job:
    """Queue a real (not dry) import of `file` (a binary file object) into `agreement` (one, or its slug), as
    `user`."""
    parameters = {"agreement": getattr(agreement, "slug", agreement), "file_name": file_name}
    return job_start(
        kind=JobKind.IMPORT,
        task=import_violations_job,
        user=user,
        parameters=parameters,
        input_file=file,
        input_name=PurePosixPath(file_name).name or "upload",
    )


# The errors listed in a failed import job's message; the rest are counted.
MAX_LISTED_ERRORS = 200


def _import(job: Job, context: JobContext) -> dict:
    parameters = job.parameters
    if not job.input_file:
        raise JobFailed("The uploaded file is gone; upload it again.")
    with job.input_file.open("rb") as file:
        data = file.read()

    def progress(done: int, total: int) -> None:
        context.progress(done, total, f"Row {done} of {total}.")

    try:
        report = import_violations(
            file=data, agreement=parameters["agreement"], user=job.requested_by, dry_run=False, progress=progress
        )
    except ImportRefused as exc:
        raise JobFailed(str(exc)) from exc
    if not report.committed:
        errors = report.all_errors()
        rows = len(report.error_rows)
        what = f"{rows} row{'s' if rows != 1 else ''} with errors" if rows else "the file cannot be read"
        listed = errors[:MAX_LISTED_ERRORS]
        more = [f"… and {len(errors) - len(listed)} more."] if len(errors) > len(listed) else []
        raise JobFailed("\n".join([f"Nothing was imported: {what}.", *listed, *more]))
    return {
        "agreement": parameters["agreement"],
        "file_name": parameters.get("file_name", ""),
        "violations": report.violation_count,
        "new_sources": report.new_source_count,
        "warnings": [*report.warnings, *(f"row {r.number}: {w}" for r in report.rows for w in r.warnings)][:200],
        "violation_ids": [str(row.violation_uuid) for row in report.rows if row.violation_uuid],
    }
