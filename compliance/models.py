"""API tokens for dashboards and integrations.

A token's key is shown once, when it is issued, and never stored: the row keeps its SHA-256 (to find it) and its
first characters (so people can tell their tokens apart). All writes go through `compliance.tokens`.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

KEY_PREFIX_LENGTH = 8


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    # RESTRICT, not PROTECT: deleting a user who issued tokens to others is refused (the record would lose who
    # issued them), but a user's own self-issued tokens go with them as their other tokens do (CASCADE on `user`).
    # Not SET_NULL: an empty issuer must mean "not recorded", never "deleted since".
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="api_tokens_issued",
        editable=False,
        help_text="Who issued the token. Empty for tokens from `issue_token` without --issued-by, or issued before "
        "issuers were recorded.",
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. the dashboard that uses it.")
    key_prefix = models.CharField(
        max_length=KEY_PREFIX_LENGTH,
        db_index=True,
        editable=False,
        help_text="The first characters of the key, to tell tokens apart. The key itself is not stored.",
    )
    key_hash = models.CharField(max_length=64, editable=False, help_text="Hex SHA-256 of the key.")
    read_only = models.BooleanField(default=False, help_text="Only safe requests (GET, HEAD, OPTIONS).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["key_hash"], name="compliance_apitoken_key_hash_unique"),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("created_at")),
                name="compliance_apitoken_expires_after_created",
                violation_error_message="A token must expire after it was created.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        """Usable now as far as the token goes: not revoked, not expired. (Its user must be active too.)"""
        return not self.is_revoked and not self.is_expired


class IdempotencyRecord(models.Model):
    """The answer to a POST sent with an `Idempotency-Key`, replayed when the same user sends the same key again.

    Written in the same transaction as the POST's own writes (compliance/api/idempotency.py), so a row exists if and
    only if those writes were committed: a retry after any failure either replays the answer or runs afresh.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request = models.TextField(help_text='Method and path of the first request, e.g. "POST /api/v1/violations/".')
    request_sha256 = models.CharField(max_length=64, help_text="Hex SHA-256 of the first request's parsed body.")
    status = models.PositiveSmallIntegerField()
    response_body = models.BinaryField()
    response_headers = models.JSONField(default=dict, help_text="The headers replayed with the body.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "idempotency record"
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="compliance_idempotencyrecord_user_key_unique"),
            # A server error is never replayed: the client retries it and the request runs again.
            models.CheckConstraint(
                condition=Q(status__gte=100, status__lt=500), name="compliance_idempotencyrecord_status_not_5xx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.request} → {self.status})"


class ChangeStamp(models.Model):
    """One row: a counter that every committed write to the record moves, and when it last moved.

    Conditional GETs read it (one primary-key lookup) instead of scanning the rows a response is built from, so a
    304 costs the same at 1M violations as at 10; because it moves on any write, a renamed actor or place also
    changes the ETag of every list that embeds it. Written only by `compliance.freshness`.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    counter = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="compliance_changestamp_single_row")]

    def __str__(self):
        return f"change {self.counter} at {self.changed_at}"


# Background jobs live in their own module; Django finds models through the app's `models` module.

from compliance.jobs.models import Job, JobKind, JobState  # noqa: E402

__all__ = ["ApiToken", "IdempotencyRecord", "Job", "JobKind", "JobState"]
