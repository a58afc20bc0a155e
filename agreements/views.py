"""Archived copies of sources, served to staff only (there is no public media URL)."""

from pathlib import PurePosixPath

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_safe

from agreements import evidence
from agreements.models import Source
from agreements.services import permissions


@require_safe
def source_file(request, path: str):
    """The archived file of a source: staff with the view permission on sources only; others are sent to log in
    (anonymous) or refused (403). Only files that a source names are served, never another file under MEDIA_ROOT."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not (request.user.is_staff and request.user.has_perm(permissions.VIEW_SOURCE)):
        raise PermissionDenied("Archived source files are for staff only.")
    name = str(PurePosixPath("sources", path))
    source = get_object_or_404(Source.objects.only("id", "archived_file"), archived_file=name)
    try:
        handle = source.archived_file.open("rb")
    except FileNotFoundError:
        raise Http404("The archived file is missing from storage.") from None
    kind = evidence.file_type(name)
    inline = kind is not None and kind.inline
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=PurePosixPath(name).name,
        content_type=kind.content_type if kind else "application/octet-stream",
    )
    # Archived pages come from the outside world: never let them run scripts on our origin or be sniffed as another
    # type. (Browsers refuse to show a PDF in a sandbox, and their PDF viewers are sandboxed themselves.)
    if kind is not evidence.PDF:
        response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
