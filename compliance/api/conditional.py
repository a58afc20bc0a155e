"""Conditional GETs: ETag and Last-Modified on lists, details and statistics; If-None-Match (or If-Modified-Since)
answers 304 before the body is built.

The validator is the record's change counter (`compliance.freshness`): one primary-key lookup, read before the
body, however many rows the answer covers and whatever it embeds.
"""

from django.utils.http import http_date, parse_http_date_safe
from rest_framework import status
from rest_framework.response import Response

from compliance import freshness
from compliance.api.etags import answer_etag, matches


def role_of(user) -> str:
    # The same rows render differently per role (retracted rows, fields), so the role is part of every tag.
    if user.is_superuser:
        return "su"
    return ",".join(sorted(user.groups.values_list("name", flat=True)))


def modified_since(request, last_modified) -> bool:
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return not (since and last_modified and int(last_modified.timestamp()) <= since)


def conditional(request, build, etag: str | None = None, *, counter=None, last_modified=None):
    """Answer 304 when the client's copy is current, else `build()`; the headers go on both.

    Without an `etag`, the tag hashes the full path, the media type, the role and the counter.
    """
    if counter is None:
        counter, last_modified = freshness.current()
    if etag is None:
        etag = answer_etag(request.get_full_path(), request.accepted_media_type, role_of(request.user), counter)
    if request.headers.get("If-None-Match"):
        fresh = matches(request, etag)
    else:
        fresh = not modified_since(request, last_modified)
    response = Response(status=status.HTTP_304_NOT_MODIFIED) if fresh else build()
    response["ETag"] = etag
    if last_modified:
        response["Last-Modified"] = http_date(last_modified.timestamp())
    response["Cache-Control"] = "private, no-cache"
    return response


class ConditionalGetMixin:
    """For viewsets: list and retrieve answer conditionally (see `conditional`)."""

    def conditional(self, request, build, etag: str | None = None):
        return conditional(request, build, etag)

    def list(self, request, *args, **kwargs):
        return self.conditional(request, lambda: super(ConditionalGetMixin, self).list(request, *args, **kwargs))

    def retrieve(self, request, *args, **kwargs):
        return self.conditional(request, lambda: Response(self.get_serializer(self.get_object()).data))


# Still used by reports/api/compliance.py until it reads the change counter too.
def fingerprint(queryset) -> tuple[str, object]:
    from django.db.models import Count, Max

    state = queryset.order_by().aggregate(latest=Max("updated_at"), rows=Count("pk"))
    return f"{state['latest'].isoformat() if state['latest'] else '-'}/{state['rows']}", state["latest"]


def etag_for(request, state: str) -> str:
    return answer_etag(request.get_full_path(), request.accepted_media_type, role_of(request.user), state)


def not_modified(request, etag: str, last_modified) -> bool:
    if request.headers.get("If-None-Match"):
        return matches(request, etag)
    return not modified_since(request, last_modified)
