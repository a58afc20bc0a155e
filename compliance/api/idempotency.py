"""Safe retries: a POST sent with `Idempotency-Key: <key>` takes effect at most once per user and key.

The first request with a key runs, and its answer (status, body, Content-Type, Location, ETag…) is stored as an
`IdempotencyRecord` in the same transaction as the request's own writes. Later requests of the same user with the
same key get:

- same method, path and body: the stored answer, marked `Idempotent-Replayed: true`; nothing runs, nothing is written;
- another method, path or body: 422 (a key names one request, so reusing it is a client bug);
- while the first one still runs: 409 with Retry-After, never a second run.

Because the record commits with the writes, a request that failed half-way (a 5xx, the database gone mid-request)
left neither behind and its retry runs afresh, while one whose answer was lost on the way back is replayed. A server
error is not stored, and the writes of the request that produced it are rolled back, so retrying it cannot write
twice. Answers the handler gave (2xx, and 4xx such as validation errors) are stored; refusals before it ran
(credentials, permissions, throttling, a bad key) are not. Records are kept IDEMPOTENCY_TTL_HOURS (at least 24);
after that the key may name a new request. `manage.py purge_idempotency_records` deletes older ones, and so does
every process now and then after a write.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from compliance.api.errors import error_body
from compliance.models import IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Printable ASCII, space included: what a header carries unmangled through proxies; a UUID is the usual choice.
KEY_PATTERN = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}")
# Headers that belong to the answer itself. Vary, Allow and the like are set afresh on every response.
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag", "Last-Modified", "Content-Language", "Content-Disposition")
IN_PROGRESS_RETRY_AFTER_SECONDS = 1
PURGE_INTERVAL_SECONDS = 600


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used for another request; send a new key with a new request."


class IdempotencyInProgress(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_in_progress"
    default_detail = "A request with this Idempotency-Key is still being processed; retry shortly to get its answer."
    wait = IN_PROGRESS_RETRY_AFTER_SECONDS


class _Replay(Exception):
    """Raised once the key is found answered: DRF's exception path then returns the stored answer untouched."""

    def __init__(self, response: HttpResponse):
        super().__init__("replay")
        self.response = response


def ttl() -> timedelta:
    return timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)


def purge_expired() -> int:
    """Delete the records past IDEMPOTENCY_TTL_HOURS; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - ttl()).delete()
    return deleted


_last_purge = float("-inf")


def _purge_now_and_then() -> None:
    # Runs after a write's commit, outside its transaction, so that deleting old rows never holds a request's locks.
    global _last_purge
    now = time.monotonic()
    if now - _last_purge < PURGE_INTERVAL_SECONDS:
        return
    _last_purge = now
    deleted = purge_expired()
    if deleted:
        logger.info("Purged %d idempotency records older than %s", deleted, ttl())


def validate_key(value: str) -> str:
    if not KEY_PATTERN.fullmatch(value):
        raise ValidationError(
            {HEADER: [f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters (a UUID, for example)."]}
        )
    return value


def _jsonable(value):
    if isinstance(value, UploadedFile):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)  # the view reads it next
        return {"file": value.name, "size": value.size, "sha256": digest.hexdigest()}
    return str(value)


def body_sha256(data) -> str:
    """SHA-256 of the parsed body, keys sorted: a client that re-serialises the same JSON differently still matches."""
    if hasattr(data, "lists"):  # form and multipart bodies: every value of every field, files by content
        data = dict(data.lists())
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable)
    return hashlib.sha256(canonical.encode()).hexdigest()


_held_keys: set[tuple[int, str]] = set()
_held_keys_guard = threading.Lock()


def _try_lock(user_id: int, key: str) -> Callable[[], None] | None:
    """Take (user, key) without waiting, until the transaction ends. Returns what releases it, or None when another
    request holds it."""
    if connection.vendor == "postgresql":
        # A transaction-level advisory lock: released by the commit or rollback, and by the server if this process
        # dies, so a crash never leaves a key blocked. A collision of two keys' hashes costs a needless 409, no more.
        lock_id = int.from_bytes(hashlib.sha256(f"idempotency\0{user_id}\0{key}".encode()).digest()[:8], signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
            return (lambda: None) if cursor.fetchone()[0] else None
    # SQLite (development) has no such lock. One held by this process covers runserver's threads; across processes
    # the unique (user, key) constraint still refuses the second commit (answered 409 in `_Claim.finish`).
    held = (user_id, key)
    with _held_keys_guard:
        if held in _held_keys:
            return None
        _held_keys.add(held)

    def release():
        with _held_keys_guard:
            _held_keys.discard(held)

    return release


def _stored_response(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.status)
    for name, value in record.response_headers.items():
        response[name] = value
    return response


def _conflict_response() -> JsonResponse:
    response = JsonResponse(
        error_body(IdempotencyInProgress.default_code, str(IdempotencyInProgress.default_detail)),
        status=IdempotencyInProgress.status_code,
    )
    response["Retry-After"] = str(IN_PROGRESS_RETRY_AFTER_SECONDS)
    return response


class _Claim:
    """One POST's use of its key, from the check after authentication to the stored answer."""

    def __init__(self, key: str):
        self.key = key
        self.record: IdempotencyRecord | None = None
        self.replayed = False
        self._release: Callable[[], None] | None = None

    def begin(self, request) -> None:
        user = request.user
        if not user.is_authenticated:
            return  # the permission classes have already refused it; there is no one to keep the key for
        key = validate_key(self.key)
        request_line = f"{request.method} {request.get_full_path()}"
        digest = body_sha256(request.data)
        self._release = _try_lock(user.pk, key)
        if self._release is None:
            raise IdempotencyInProgress()
        found = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if found is not None and found.created_at < timezone.now() - ttl():
            found.delete()
            found = None
        if found is not None:
            if (found.request, found.request_sha256) != (request_line, digest):
                raise IdempotencyKeyReused(
                    f"This Idempotency-Key was used for {found.request} with another body; send a new key with a new "
                    "request."
                    if found.request == request_line
                    else f"This Idempotency-Key was used for {found.request}; send a new key with a new request."
                )
            self.replayed = True
            raise _Replay(_stored_response(found))
        self.record = IdempotencyRecord(user=user, key=key, request=request_line, request_sha256=digest)

    def finish(self, response):
        """Store the answer in the request's transaction, or roll the request back when it cannot be stored."""
        if self.replayed:
            response[REPLAYED_HEADER] = "true"
            return response
        if self.record is None:
            return response  # refused before it ran: nothing was written, nothing to keep
        if response.status_code >= 500:
            transaction.set_rollback(True)
            return response
        if hasattr(response, "render"):
            response.render()  # the stored body must be the bytes this client gets
        self.record.status = response.status_code
        self.record.response_body = response.content
        self.record.response_headers = {name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)}
        try:
            with transaction.atomic():
                self.record.save(force_insert=True)
        except IntegrityError:
            # Another process answered this key first (engines without the advisory lock): its writes stand, so
            # ours must not. Its answer is what a retry gets.
            transaction.set_rollback(True)
            return _conflict_response()
        transaction.on_commit(_purge_now_and_then, robust=True)
        return response

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None


class IdempotentMixin:
    """For API views whose POSTs write: honours `Idempotency-Key` on every POST (create and actions alike).

    The whole POST — authentication, the handler, storing its answer — runs in one transaction when the header is
    present; requests without it are untouched.
    """

    _idempotency: _Claim | None = None

    def dispatch(self, request, *args, **kwargs):
        if request.method != "POST" or HEADER not in request.headers:
            return super().dispatch(request, *args, **kwargs)
        self._idempotency = claim = _Claim(request.headers[HEADER])
        try:
            with transaction.atomic():
                return claim.finish(super().dispatch(request, *args, **kwargs))
        finally:
            claim.release()  # after the commit: until then a concurrent retry must not see the key free

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions and throttles first
        if self._idempotency is not None:
            self._idempotency.begin(request)

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return exc.response
        return super().handle_exception(exc)
