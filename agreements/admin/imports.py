"""The admin's import page: upload a CSV/XLSX file of violations, see per row what it would create (a dry run)
and every error with its row number, then import it, all or nothing.

URL: `admin:agreements_violation_import` (/admin/agreements/import-violations/), listed under the app on the
admin index (see `agreements.admin.pages`). Needs the "add violation" permission.

The file previewed is kept in a private temporary directory (not under MEDIA_ROOT, which may be served), keyed
by a random token held in the user's session, so "Import" imports exactly the file that was previewed without
uploading it again. Files left behind by previews never confirmed are removed after `KEEP_SECONDS`.

The confirmed import runs in the request for a small file; for a file of more than `IMPORT_INLINE_MAX_ROWS` rows,
or when asked ("Import in the background"), it is handed to a background job (agreements/jobs.py): the file is
stored with the job, and the page goes to the job's admin page, whose progress bar follows the import row by row.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from agreements.admin.pages import add_page
from agreements.importing import ImportReport, import_violations
from agreements.jobs import import_job_start
from agreements.models import Agreement, Violation
from agreements.services import permissions

PERMISSION = permissions.ADD_VIOLATION
SESSION_KEY = "agreements_violation_imports"
UPLOAD_DIR = Path(tempfile.gettempdir()) / "compliance-violation-imports"
KEEP_SECONDS = 24 * 3600
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV (UTF-8) or XLSX, with our export's columns or ACLED-style columns.")
    agreement = forms.ModelChoiceField(
        queryset=Agreement.objects.order_by("slug"),
        to_field_name="slug",
        help_text="Files do not say which agreement their incidents breach; choose it here.",
    )
    dry_run = forms.BooleanField(
        required=False, initial=True, label="Dry run", help_text="Show what would be created; write nothing."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it.")
        suffix = Path(upload.name).suffix.lower()
        if suffix not in {".csv", ".xlsx", ".txt"}:
            raise forms.ValidationError("Upload a .csv or .xlsx file.")
        return upload


def _store(request, upload, agreement: Agreement, rows: int) -> str:
    """Keep the uploaded file for the confirming POST; return the token that names it in the session."""
    UPLOAD_DIR.mkdir(mode=0o700, exist_ok=True)
    now = time.time()
    for old in UPLOAD_DIR.glob("*.upload"):
        if now - old.stat().st_mtime > KEEP_SECONDS:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(24)
    target = UPLOAD_DIR / f"{token}.upload"
    with target.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    pending = request.session.get(SESSION_KEY, {})
    pending[token] = {"path": str(target), "name": upload.name, "agreement": agreement.slug, "rows": rows}
    request.session[SESSION_KEY] = pending
    return token


def _take(request, token: str) -> dict | None:
    pending = request.session.get(SESSION_KEY, {})
    entry = pending.pop(token, None)
    request.session[SESSION_KEY] = pending
    return entry


def _rows(report: ImportReport) -> list[tuple]:
    """(row, change URL of the violation it created, or "") for the report table; one query for the links."""
    ids = [row.violation_uuid for row in report.rows if row.violation_uuid]
    pks = dict(Violation.objects.filter(uuid__in=ids).values_list("uuid", "pk")) if ids else {}
    return [
        (row, reverse("admin:agreements_violation_change", args=[pks[row.violation_uuid]]))
        if row.violation_uuid in pks
        else (row, "")
        for row in report.rows
    ]


def import_view(request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied("Importing violations needs the permission to add violations.")
    context = {
        **admin.site.each_context(request),
        "title": "Import violations",
        "opts": Violation._meta,
        "report": None,
        "token": None,
        "file_name": "",
        "inline_max_rows": settings.IMPORT_INLINE_MAX_ROWS,
    }
    if request.method == "POST" and request.POST.get("token"):
        entry = _take(request, request.POST["token"])
        if entry is None or not Path(entry["path"]).exists():
            messages.error(request, "That preview has expired; upload the file again.")
            context["form"] = ImportForm()
            return TemplateResponse(request, "admin/agreements/import.html", context)
        path = Path(entry["path"])
        if request.POST.get("background") or entry.get("rows", 0) > settings.IMPORT_INLINE_MAX_ROWS:
            return _import_in_background(request, entry, path)
        try:
            report = import_violations(file=path, agreement=entry["agreement"], user=request.user, dry_run=False)
        finally:
            path.unlink(missing_ok=True)
        context.update(form=ImportForm(), report=report, file_name=entry["name"], rows=_rows(report))
        _announce(request, report)
        return TemplateResponse(request, "admin/agreements/import.html", context)

    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload, agreement = form.cleaned_data["file"], form.cleaned_data["agreement"]
        dry_run = form.cleaned_data["dry_run"]
        report = import_violations(file=upload, agreement=agreement, user=request.user, dry_run=dry_run)
        if dry_run and report.ok:
            upload.seek(0)
            context["token"] = _store(request, upload, agreement, len(report.rows))
        context.update(report=report, file_name=upload.name, rows=_rows(report))
        _announce(request, report)
    context["form"] = form
    return TemplateResponse(request, "admin/agreements/import.html", context)


def _import_in_background(request, entry: dict, path: Path):
    try:
        with path.open("rb") as file:
            job = import_job_start(file=file, file_name=entry["name"], agreement=entry["agreement"], user=request.user)
    finally:
        path.unlink(missing_ok=True)
    messages.info(request, f"Importing {entry['name']} into {entry['agreement']} in the background.")
    return HttpResponseRedirect(reverse("admin:compliance_job_change", args=[job.pk]))


def _announce(request, report: ImportReport) -> None:
    if report.committed:
        messages.success(
            request,
            f"Imported {report.violation_count} violations ({report.new_source_count} new sources) into "
            f"{report.agreement.slug}.",
        )
    elif not report.ok:
        rows = len(report.error_rows)
        what = f"{rows} row{'s' if rows != 1 else ''} with errors" if rows else "the file cannot be read"
        messages.error(request, f"Nothing was imported: {what}. Fix the file and upload it again.")


add_page(
    "agreements/import-violations/",
    import_view,
    "agreements_violation_import",
    title="Import violations",
    permission=PERMISSION,
)
