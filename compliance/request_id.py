"""One id per request, sent back as `X-Request-ID` and written on every log line of the request, so a client's
report of a failed call can be matched with the server's log."""

import logging
import re
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"

# What a proxy or client may hand us to reuse: uuids, hex digests, ULIDs and the like. Anything else (spaces,
# quotes, control characters, a kilobyte of text) would let a caller forge or garble log lines, so it is replaced.
SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

current: ContextVar[str | None] = ContextVar("request_id", default=None)


def request_id_for(incoming: str | None) -> str:
    if incoming and SANE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIDFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request).

    Django logs a request's 4xx/5xx line ("Not Found: /api/…") after the middleware has returned, so the request
    attached to the record is asked first and the context variable second.
    """

    def filter(self, record):
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or current.get() or "-"
        return True
