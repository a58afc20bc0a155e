"""One error shape for every JSON 4xx/5xx answer: {"error": {"code", "message", "fields"}}."""

import logging

import psycopg
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from psycopg_pool import PoolTimeout
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state of the record."


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = "The record changed since you read it."


# "No database right now" — down, restarting, unreachable, no pooled connection in time, a lock that timed out —
# rather than a bug: the client should come back, so these answer 503 with Retry-After instead of 500. Django wraps
# the driver's errors; the driver's and the pool's own are listed for the few paths (pool checks) it does not wrap.
DATABASE_UNAVAILABLE_ERRORS = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
)
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "database_unavailable"
    default_detail = f"The database is unavailable; retry in {RETRY_AFTER_SECONDS} seconds."
    # DRF's handler turns `wait` into Retry-After.
    wait = RETRY_AFTER_SECONDS


def database_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, DATABASE_UNAVAILABLE_ERRORS)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The request body is larger than the API accepts."


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _flatten(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _flatten(value)]
    return [str(detail)]


def _translate(exc):
    """Map the exceptions services and Django raise to DRF's, so one handler shapes them all."""
    if database_unavailable(exc):
        logger.warning("Database unavailable: %s: %s", exc.__class__.__name__, exc)
        return DatabaseUnavailable()
    if getattr(exc, "code", None) == "stale" and isinstance(exc, DjangoValidationError):
        return PreconditionFailed(detail=" ".join(exc.messages))
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(detail=as_serializer_error(exc))
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, SuspiciousOperation):  # e.g. too many query parameters: the request's fault, not ours
        return exceptions.ParseError(detail="The request is malformed.")
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(detail=str(exc) or None)  # the service's reason, when it gives one
    if isinstance(exc, ProtectedError | RestrictedError):
        blockers = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
        names = sorted({str(obj._meta.verbose_name_plural) for obj in list(blockers)[:50]})
        used_by = f" (used by {', '.join(names)})" if names else ""
        return Conflict(detail=f"This record is still referred to{used_by}; it cannot be deleted.")
    return exc


def exception_handler(exc, context):
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__, exc_info=exc)
        return Response(
            error_body("server_error", "Something went wrong on our side; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        general = _flatten(detail.get("non_field_errors", [])) + _flatten(detail.get("__all__", []))
        fields = {key: _flatten(value) for key, value in detail.items() if key not in {"non_field_errors", "__all__"}}
        message = " ".join(general) or "Invalid input: " + "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        response.data = error_body("invalid", message, fields)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(code, " ".join(_flatten(getattr(exc, "detail", str(exc)))))
    return response
