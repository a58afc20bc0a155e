"""Conditional GETs: ETag and Last-Modified on lists, details and stats; If-None-Match answers 304 before the body
is computed. The validator comes from one cheap query over the same filtered rows (latest change and row count)."""

import hashlib

from django.db.models import Count, Max
from django.utils.http import http_date, parse_etags, parse_http_date_safe, quote_etag
from rest_framework import status
from rest_framework.response import Response


def fingerprint(queryset) -> tuple[str, object]:
    state = queryset.order_by().aggregate(latest=Max("updated_at"), rows=Count("pk"))
    return f"{state['latest'].isoformat() if state['latest'] else '-'}/{state['rows']}", state["latest"]


def etag_for(request, state: str) -> str:
    # The same rows render differently per format and per role (retracted rows, fields), so both are in the tag.
    user = request.user
    role = "su" if user.is_superuser else ",".join(sorted(user.groups.values_list("name", flat=True)))
    digest = hashlib.sha256(f"{request.get_full_path()}|{request.accepted_media_type}|{role}|{state}".encode())
    return quote_etag(digest.hexdigest()[:32])


def not_modified(request, etag: str, last_modified) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match:
        return etag in parse_etags(if_none_match) or if_none_match.strip() == "*"
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return bool(since and last_modified and int(last_modified.timestamp()) <= since)


class ConditionalGetMixin:
    """For viewsets: wraps list and retrieve (and any view calling `conditional`) with ETag/Last-Modified."""

    def conditional(self, request, queryset, build):
        state, latest = fingerprint(queryset)
        etag = etag_for(request, state)
        if not_modified(request, etag, latest):
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = build()
        response["ETag"] = etag
        if latest:
            response["Last-Modified"] = http_date(latest.timestamp())
        response["Cache-Control"] = "private, no-cache"
        return response

    def list(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        return self.conditional(
            request, queryset, lambda: super(ConditionalGetMixin, self).list(request, *args, **kwargs)
        )

    def retrieve(self, request, *args, **kwargs):
        # The validator comes from the bare row; the body's joins and prefetches run only when it must be built.
        lookup = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        state = self.get_queryset().model.objects.filter(**{self.lookup_field: lookup})
        return self.conditional(request, state, lambda: Response(self.get_serializer(self.get_object()).data))
