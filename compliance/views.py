"""Cross-cutting endpoints that need no app: liveness and readiness probes."""

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers. Deliberately touches nothing else, so a slow database never restarts it."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Readiness: the database answers a trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return JsonResponse(
            {"error": {"code": "database_unavailable", "message": f"Database unreachable: {exc.__class__.__name__}"}},
            status=503,
        )
    return JsonResponse({"status": "ok", "database": "ok"})
