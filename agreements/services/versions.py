"""A violation's version: the stale-edit guard shared by edits (violations.py) and review steps (review.py)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from agreements.models import Violation


class StaleEdit(ValidationError):
    """Someone saved the violation after the editor loaded it; saving now would overwrite their change."""

    def __init__(self, *, current: Violation, expected_version: int, changed: dict[str, tuple]):
        self.current = current
        self.expected_version = expected_version
        self.changed = changed  # field -> (value when loaded, value now)
        who = current.updated_by or current.reported_by
        fields = ", ".join(changed) or "its sources or links"
        super().__init__(
            f"This violation was changed by {who} (now version {current.version}, you loaded version "
            f"{expected_version}). Changed meanwhile: {fields}. Reload it and apply your edit again.",
            code="stale",
        )


# Facts a stale-edit message compares; bookkeeping fields (version, updated_*) are not facts.
FACT_FIELDS = [
    f.attname
    for f in Violation._meta.concrete_fields
    if f.editable and f.name not in {"id", "uuid", "created_at", "updated_at"}
]


def violation_check_version(*, violation: Violation, expected_version: int | None, lock: bool = False) -> Violation:
    """Return the stored row; raise StaleEdit if it is no longer at `expected_version` (None: don't check)."""
    rows = Violation.objects.select_for_update(of=("self",)) if lock else Violation.objects
    current = rows.select_related("updated_by", "reported_by").get(pk=violation.pk)
    if expected_version is not None and current.version != expected_version:
        # Compare with the version the editor loaded (kept in the history), so the message lists what others
        # changed meanwhile, not what this editor is changing.
        loaded = current.history.filter(version=expected_version).order_by("-history_date").first()
        changed = {
            name: (getattr(loaded, name), getattr(current, name))
            for name in FACT_FIELDS
            if loaded is not None and getattr(loaded, name) != getattr(current, name)
        }
        raise StaleEdit(current=current, expected_version=expected_version, changed=changed)
    return current
