"""Freshness of the record: the state every ETag and Last-Modified of the API is computed from.

A single counter (`ChangeStamp`) moves after every committed write to the `agreements` and `reports` tables:
model saves, deletes and link changes through Django's signals, and set-based writes (bulk imports, synthetic
data) through an explicit `touch()`. Reading it is one primary-key lookup, whatever the number of rows.

Why after the commit: a reader reads the counter first and the rows second. Moved after the commit, a counter a
reader sees always comes with rows at least as new, so a 304 never hides a change; the worst case is the other way
(new rows under the old counter), which costs one extra full answer, never a stale one. The increment is its own
short statement, so concurrent writers wait on the counter's row for one UPDATE, not for each other's transaction.

Inside a transaction, a connection sees its own writes before anyone else does (the tests run each in one
transaction; a request could write then read). So its writes are also counted on the connection itself, in
Python, and the state it reads is "counter + own pending writes". That costs the writing transaction no query and
no lock; outside a transaction the pending part is zero again, so every worker computes the same tags.
"""

from django.apps import apps
from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

WATCHED_APPS = ("agreements", "reports")


def current() -> tuple[str, object]:
    """(state, when it last changed or None): what conditional GETs validate against."""
    from compliance.models import ChangeStamp

    counter, changed_at = ChangeStamp.objects.filter(pk=1).values_list("counter", "changed_at").first() or (0, None)
    pending, pending_at = getattr(connection, "freshness_pending", (0, None))
    if not connection.in_atomic_block:
        connection.freshness_pending = (0, None)  # committed (and counted) or rolled back
        return str(counter), changed_at
    if not pending:
        return str(counter), changed_at
    return f"{counter}p{pending}", max(filter(None, (changed_at, pending_at)))


def _after_commit() -> None:
    from compliance.models import ChangeStamp

    connection.freshness_pending = (0, None)
    now = timezone.now()
    if not ChangeStamp.objects.filter(pk=1).update(counter=F("counter") + 1, changed_at=now):
        ChangeStamp.objects.get_or_create(pk=1, defaults={"counter": 1, "changed_at": now})


def touch() -> None:
    """Say that the record changed: the counter moves when the current transaction commits (now, outside one)."""
    if not connection.in_atomic_block:
        _after_commit()
        return
    pending, _ = getattr(connection, "freshness_pending", (0, None))
    connection.freshness_pending = (pending + 1, timezone.now())
    if not any(func is _after_commit for _, func, _ in connection.run_on_commit):
        transaction.on_commit(_after_commit)


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):
        return  # fixtures loading: nothing reads the counter yet
    touch()


def _links_changed(sender, action, **kwargs) -> None:
    if action in {"post_add", "post_remove", "post_clear"}:
        touch()


def connect() -> None:
    """Listen to every model of the watched apps (their history tables move with them and need no signal)."""
    for app_label in WATCHED_APPS:
        for model in apps.get_app_config(app_label).get_models():
            if model.__name__.startswith("Historical"):
                continue
            uid = f"freshness:{model._meta.label}"
            post_save.connect(_changed, sender=model, dispatch_uid=f"{uid}:save")
            post_delete.connect(_changed, sender=model, dispatch_uid=f"{uid}:delete")
            for field in model._meta.local_many_to_many:
                through = field.remote_field.through
                m2m_changed.connect(_links_changed, sender=through, dispatch_uid=f"{uid}:{field.name}")
