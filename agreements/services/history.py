"""Reading a violation's history: who changed what and when, one entry per saved change."""

from __future__ import annotations

from agreements.models import Violation

# --- reading the history ------------------------------------------------------------------------------------------

HISTORY_TYPES = {"+": "created", "~": "changed", "-": "deleted"}
# Bookkeeping that changes with every save; the entry's own `version` and `at` say it.
_HISTORY_SKIPPED = {"id", "created_at", "updated_at", "version"}


def _m2m_history(history_model) -> list[tuple[str, str, str]]:
    """(field name, accessor on a history row, column of the linked id) for each tracked many-to-many field."""
    found = []
    for field in history_model._history_m2m_fields:
        rows_model = getattr(history_model, field.name).model
        accessor = next(
            rel.get_accessor_name() for rel in history_model._meta.related_objects if rel.related_model is rows_model
        )
        found.append((field.name, accessor, f"{field.m2m_reverse_field_name()}_id"))
    return found


def violation_history(*, violation: Violation) -> list[dict]:
    """Who changed what and when, newest first: [{at, user, type, version, reason, changes: [{field, old, new}]}].

    One entry per save: a save and the many-to-many links it sets write several history rows (same version, same
    user); they are one change. Compared field by field over everything the history tracks — including the status,
    verifier and retraction, which simple-history's `diff_against` leaves out because they are not editable in
    forms. Foreign keys and links are given as ids. A fixed number of queries, however long the history.
    """
    history_model = Violation.history.model
    fields = [f for f in history_model.tracked_fields if f.name not in _HISTORY_SKIPPED]
    m2m = _m2m_history(history_model)
    rows = (
        violation.history.select_related("history_user")
        .prefetch_related(*(accessor for _, accessor, _ in m2m))
        .order_by("history_date", "history_id")
    )
    groups: list[list] = []
    for row in rows:
        if groups and (groups[-1][-1].version, groups[-1][-1].history_user_id) == (row.version, row.history_user_id):
            groups[-1].append(row)
        else:
            groups.append([row])

    def state(row) -> dict:
        values = {f.name: getattr(row, f.attname) for f in fields}
        for name, accessor, column in m2m:
            values[name] = sorted(getattr(link, column) for link in getattr(row, accessor).all())
        return values

    entries, before = [], None
    for group in groups:
        last = group[-1]
        after = state(last)
        kind = "created" if any(row.history_type == "+" for row in group) else HISTORY_TYPES[last.history_type]
        if before is None:
            changes = [{"field": k, "old": None, "new": v} for k, v in after.items() if v not in (None, "", [])]
        else:
            changes = [{"field": k, "old": before[k], "new": v} for k, v in after.items() if before[k] != v]
        reasons = [row.history_change_reason for row in group if row.history_change_reason]
        entries.append(
            {
                "at": last.history_date,
                "user": last.history_user.get_username() if last.history_user else None,
                "type": kind,
                "version": last.version,
                "reason": reasons[-1] if reasons else "",
                "changes": changes,
            }
        )
        before = after
    entries.reverse()
    return entries
