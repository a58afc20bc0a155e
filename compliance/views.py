"""Cross-cutting endpoints that need no app: liveness and readiness probes, and the error answers of the site —
JSON in the API's one error shape under /api/, Django's HTML pages elsewhere."""

import psycopg
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, connection
from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.html import escape
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from compliance.api.errors import DATABASE_UNAVAILABLE_ERRORS, RETRY_AFTER_SECONDS, error_body


@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers. Deliberately touches nothing else, so a slow database never restarts it."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Readiness: the database answers a trivial query. When it does not, says why, and how the pool stands."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except (DatabaseError, *DATABASE_UNAVAILABLE_ERRORS) as exc:
        # Django wraps the driver's error (and the pool's PoolTimeout); the original names the actual failure.
        cause = exc.__cause__ if isinstance(exc.__cause__, psycopg.Error) else exc
        database = {"error": cause.__class__.__name__, "reason": _reason(cause)}
        pool = getattr(connection, "pool", None)  # psycopg's pool on PostgreSQL with DB_POOL, else None
        if pool is not None:
            database["pool"] = pool.get_stats()
            database["direct_connection"] = _direct_connection_attempt()
        body = error_body("database_unavailable", f"Database unreachable: {database['error']}: {database['reason']}")
        response = JsonResponse({**body, "database": database}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JsonResponse({"status": "ok", "database": "ok"})


def _reason(exc: BaseException) -> str:
    """The driver's words for the failure, without the server's address (this probe answers anyone)."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return first_line.rsplit(" failed: ", 1)[-1].strip() or exc.__class__.__name__


def _direct_connection_attempt() -> str:
    """A pool's timeout hides why it has no connection; one attempt outside the pool tells (refused, auth, …)."""
    params = connection.get_connection_params()  # without the pool's options
    params["connect_timeout"] = min(int(params.get("connect_timeout") or 2), 2)
    try:
        psycopg.connect(**params).close()
    except psycopg.Error as exc:
        return f"failed: {exc.__class__.__name__}: {_reason(exc)}"
    return "ok (the pool had no free connection in time)"


# --- error answers ------------------------------------------------------------------------------------------------


def is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def api_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def refuse(request, status: int, code: str, message: str) -> HttpResponse:
    """An error answered before (or instead of) a view: JSON under /api/, a plain error page elsewhere."""
    if is_api(request):
        return api_error(status, code, message)
    title = {400: "Bad Request", 413: "Request Too Large"}.get(status, "Error")
    page = defaults.ERROR_PAGE_TEMPLATE % {"title": title, "details": escape(message)}
    return HttpResponse(page, status=status, content_type="text/html")


def bad_request(request, exception):
    """handler400: Django's answer to a SuspiciousOperation; a body over DATA_UPLOAD_MAX_MEMORY_SIZE is 413."""
    if isinstance(exception, RequestDataTooBig):
        return refuse(request, 413, "too_large", "The request body is larger than this site accepts.")
    if is_api(request):
        return api_error(400, "bad_request", "The request is malformed.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if is_api(request):
        return api_error(403, "permission_denied", str(exception) or "You may not do this.")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if is_api(request):
        return api_error(404, "not_found", f"Nothing at {request.path}.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api(request):
        request_id = getattr(request, "request_id", "")
        return api_error(500, "server_error", f"Something went wrong on our side; it has been logged ({request_id}).")
    return defaults.server_error(request)


def _slashed_route_exists(request) -> bool:
    if request.path_info.endswith("/"):
        return False
    try:
        match = resolve(request.path_info + "/")
    except Resolver404:
        return False
    return match.url_name != "api-not-found"


@csrf_exempt  # answers no state-changing request; without this a token POST here would get CSRF's HTML 403
def api_not_found(request, *args, **kwargs):
    """The last URL pattern under /api/: a JSON 404 instead of Django's HTML page.

    It also takes over APPEND_SLASH, which cannot see past a catch-all: a GET or HEAD of an API URL without its
    trailing slash is redirected (301) as before; other methods get 308, which keeps the method and the body (a 301
    would turn a POST into a GET and drop the body).
    """
    if _slashed_route_exists(request):
        target = request.get_full_path(force_append_slash=True)
        if request.method in {"GET", "HEAD"}:
            return HttpResponsePermanentRedirect(target)
        response = HttpResponse(status=308)
        response["Location"] = target
        return response
    return api_error(404, "not_found", f"Nothing at {request.path}; the API's paths are listed at /api/schema/.")
