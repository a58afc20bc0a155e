"""Conditional GETs: ETag and Last-Modified on lists, details and statistics; If-None-Match (or If-Modified-Since)
answers 304 before the body is built.

The validator is the record's change counter (`compliance.freshness`): one primary-key lookup, read before the
body, however many rows the answer covers and whatever it embeds.

The same tag keys a cache of rendered answers (Django's cache; per process by default, shared with
CACHE_BACKEND=…redis…): dashboards polling the same list get the bytes built for the first of them until the
record changes, and a change moves the counter, so a cached answer is never served stale. Bodies over
API_ANSWER_CACHE_MAX_BYTES are not kept; 0 turns the cache off.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils.http import http_date, parse_http_date_safe
from rest_framework import status
from rest_framework.response import Response

from compliance import freshness
from compliance.api.etags import answer_etag, matches


def role_of(user) -> str:
    # The same rows may render differently per role, so what the user may do is part of every tag. Read from the
    # permissions the permission check already loaded (cached on the user): no query of its own.
    if user.is_superuser:
        return "su"
    if not user.is_authenticated:
        return "-"
    return hashlib.sha256(",".join(sorted(user.get_all_permissions())).encode()).hexdigest()[:16]


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
    if fresh:
        response = Response(status=status.HTTP_304_NOT_MODIFIED)
    else:
        response = cached_or_built(request, f"{etag}|{last_modified}", build)
    response["ETag"] = etag
    if last_modified:
        response["Last-Modified"] = http_date(last_modified.timestamp())
    response["Cache-Control"] = "private, no-cache"
    return response


def cached_or_built(request, state: str, build):
    limit = settings.API_ANSWER_CACHE_MAX_BYTES
    if not limit:
        return build()
    # The tag alone does not name the format for every answer (a record's tag is its version); the time of the last
    # change tells a database restored from a backup (its counter back) from the one cached. Kept per user, not per
    # role: an answer that one day depends on who asks (a "mine" filter) cannot reach anyone else.
    parts = f"{request.get_full_path()}|{request.accepted_media_type}|{request.user.pk}|{state}"
    key = "answer:" + hashlib.sha256(parts.encode()).hexdigest()
    kept = cache.get(key)
    if kept is not None:
        content_type, body = kept
        return HttpResponse(body, content_type=content_type)
    response = build()
    if isinstance(response, Response) and response.status_code == 200:

        def keep(rendered):
            if len(rendered.content) <= limit:
                cache.set(key, (rendered["Content-Type"], rendered.content))

        response.add_post_render_callback(keep)
    return response


class ConditionalGetMixin:
    """For viewsets: list and retrieve answer conditionally (see `conditional`)."""

    def conditional(self, request, build, etag: str | None = None):
        return conditional(request, build, etag)

    def list(self, request, *args, **kwargs):
        return self.conditional(request, lambda: super(ConditionalGetMixin, self).list(request, *args, **kwargs))

    def retrieve(self, request, *args, **kwargs):
        return self.conditional(request, lambda: Response(self.get_serializer(self.get_object()).data))
