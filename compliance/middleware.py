"""503 with Retry-After, in the one error shape, for a database outage met outside the API's own error handling.

DRF views answer such errors themselves (compliance.api.errors.exception_handler); this covers the rest: the admin,
the source-file view, the session and user loaded for them, and the commit of an idempotent POST, which happens
after DRF has answered (compliance/api/idempotency.py). Without it they would be 500s, which clients and load
balancers take for a bug rather than for "come back shortly".
"""

import logging
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import JsonResponse

from compliance import request_id
from compliance.api.errors import RETRY_AFTER_SECONDS, DatabaseUnavailable, database_unavailable, error_body
from compliance.views import is_api, refuse

logger = logging.getLogger(__name__)


def database_unavailable_response() -> JsonResponse:
    response = JsonResponse(
        error_body(DatabaseUnavailable.default_code, str(DatabaseUnavailable.default_detail)),
        status=DatabaseUnavailable.status_code,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_unavailable(exception):
            return None
        logger.warning(
            "Database unavailable during %s %s: %s: %s",
            request.method,
            request.path,
            exception.__class__.__name__,
            exception,
        )
        return database_unavailable_response()


# --- request ids and strict input: guards that run before any view, so no view has to think about them -------------


class RequestIDMiddleware:
    """Gives each request an id (`request.request_id`, the logging context) and sends it back as X-Request-ID.

    First in MIDDLEWARE, so every answer carries it: errors of later middleware and Django's error pages included.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id.request_id_for(request.headers.get(request_id.HEADER))
        token = request_id.current.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id.current.reset(token)
        response[request_id.HEADER] = request.request_id
        return response


class StrictInputMiddleware:
    """Refuses, before anything reads them, requests that would otherwise fail deep inside (as a 500):

    - a NUL character in the path or the query string, anywhere on the site: PostgreSQL text cannot hold one, so a
      lookup or filter with it is a database error;
    - on /api/, a body announced larger than DATA_UPLOAD_MAX_MEMORY_SIZE, with 413 before it is read. The API takes
      JSON only; the admin's uploads (archived source files) are multipart, whose files Django does not count
      against that limit, so it is left to Django there (a too-large form is answered 413 by compliance.views).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
            return refuse(request, 400, "bad_request", "The URL contains a NUL character (%00).")
        if is_api(request) and self.too_large(request):
            return refuse(
                request,
                413,
                "too_large",
                f"The body is larger than the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes the API accepts.",
            )
        return self.get_response(request)

    @staticmethod
    def too_large(request) -> bool:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return False  # Django reads such a body as empty
        return limit is not None and length > limit
