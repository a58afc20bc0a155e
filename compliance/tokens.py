"""The one write path for API tokens. The admin, the `issue_token` command and the API's authentication call
these functions; none of them writes an `ApiToken` by itself.

A key is `secrets.token_urlsafe(32)` (43 url-safe characters, 256 random bits). With that much entropy a plain
SHA-256 is as good as a slow password hash, and it lets a request find its token by an indexed lookup.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils import timezone

from compliance.models import KEY_PREFIX_LENGTH, ApiToken

logger = logging.getLogger(__name__)

MAX_EXPIRES_IN_DAYS = 3650
# `last_used_at` is a hint for people reviewing tokens, not an audit log: write it at most this often.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Longer input is not one of our keys; refuse it before hashing.
MAX_KEY_LENGTH = 256


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_issue(
    *, user, name: str, read_only: bool = False, expires_in_days: int | None = None, issued_by=None
) -> tuple[ApiToken, str]:
    """Create a token for `user`. Returns the row and the clear key; the key is not stored and cannot be shown
    again.

    `issued_by` is the person issuing it (the admin's user, `issue_token --issued-by`); it stays on the token, so a
    token made for someone else still names who made it. None when nobody can be named (a script, the shell).
    """
    if not user.is_active:
        raise ValidationError({"user": f"User {user} is inactive; a token for them would not authenticate."})
    if expires_in_days is not None and (
        isinstance(expires_in_days, bool)
        or not isinstance(expires_in_days, int)
        or not 1 <= expires_in_days <= MAX_EXPIRES_IN_DAYS
    ):
        raise ValidationError(
            {"expires_at": f"Expiry must be a whole number of days from 1 to {MAX_EXPIRES_IN_DAYS}."},
            code="invalid",
        )
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken(
        user=user,
        issued_by=issued_by,
        name=(name or "").strip(),
        key_prefix=key[:KEY_PREFIX_LENGTH],
        key_hash=hash_key(key),
        read_only=bool(read_only),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    token.full_clean()
    token.save(force_insert=True)
    logger.info("API token %s (%s) issued for user %s by %s", token.pk, token.key_prefix, user, issued_by or "-")
    return token, key


def token_revoke(*, token: ApiToken, user=None) -> ApiToken:
    """Revoke `token` (idempotent: a revoked token keeps its first revocation time). The row stays, for the record.

    `user` is who asks. When given, they must own the token or have the permission to change tokens.
    """
    if user is not None and user.pk != token.user_id and not user.has_perm("compliance.change_apitoken"):
        raise PermissionDenied("You may revoke only your own tokens.")
    now = timezone.now()
    if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
        logger.info("API token %s (%s) revoked by %s", token.pk, token.key_prefix, user or "system")
    token.revoked_at = ApiToken.objects.values_list("revoked_at", flat=True).get(pk=token.pk)
    return token


def token_authenticate(key) -> ApiToken | None:
    """The active token with this key, of an active user, or None. Records the use (at most once a minute)."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_key(key), revoked_at__isnull=True, user__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if token is None:
        return None
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_RESOLUTION:
        # A plain UPDATE (no save(), no signals): one write a minute at most, and concurrent requests skip it.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
