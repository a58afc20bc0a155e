"""Writing rows one by one through the services (the reference path the bulk writer in `bulk.py` must equal), and
what both report: the error lines of a refused row, a row's summary, the likely duplicates it has."""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from agreements import services
from agreements.duplicates import DuplicateHint, likely_duplicates
from agreements.importing.readers import Prepared
from agreements.importing.results import RowResult
from agreements.models import Source


def source_for(new: services.NewSource, *, user, result: RowResult) -> Source:
    """The source the services' one rule finds for this article (`services.source_known`), or a new one."""
    label = f"{new.publisher}: {new.title}"
    existing = services.source_known(url=new.url, publisher=new.publisher, title=new.title)
    if existing is not None:
        result.reused_sources.append(label)
        return existing
    result.new_sources.append(label)
    return services.source_get_or_create(new=new, user=user)


def error_lines(exc: ValidationError, field_columns: dict[str, str]) -> list[str]:
    if hasattr(exc, "error_dict"):
        lines = []
        for name, messages in exc.message_dict.items():
            for message in messages:
                lines.append(message if name == NON_FIELD_ERRORS else f"{field_columns.get(name, name)}: {message}")
        return lines
    return list(exc.messages)


def duplicate_text(public_id, label: str, started_at, same_place: bool, distance_km: float | None) -> str:
    """The warning a row gets for a record it may repeat (both paths word it here)."""
    where = "same place" if same_place else f"{distance_km:.1f} km away"
    return f"Possible duplicate of {public_id} ({label} on {started_at:%Y-%m-%d}, {where})."


def duplicate_warning(hint: DuplicateHint) -> str:
    other = hint.violation
    return duplicate_text(other.uuid, other.get_category_display(), other.started_at, hint.same_place, hint.distance_km)


def summarise(prepared: Prepared) -> dict[str, str]:
    fields = prepared.fields
    place = fields.get("place")
    where = place.name if place is not None else f"{fields.get('latitude')}, {fields.get('longitude')}"
    started = fields.get("started_at")
    return {
        "started": f"{started:%Y-%m-%d}" if started else "",
        "category": str(fields.get("category") or ""),
        "place": where,
        "perpetrators": ", ".join(actor.name for actor in prepared.perpetrators),
        "affected": ", ".join(actor.name for actor in prepared.affected),
        "clauses": ", ".join(clause.number for clause in prepared.clauses),
        "killed": "" if fields.get("killed_best") is None else str(fields["killed_best"]),
    }


def write_row(prepared: Prepared, *, user, result: RowResult, field_columns: dict[str, str]) -> None:
    """Record the row's violation in a savepoint; on a ValidationError roll back to it and note the errors."""
    try:
        with transaction.atomic():
            sources = [source_for(new, user=user, result=result) for new in prepared.sources]
            violation = services.violation_create(
                user=user,
                clauses=prepared.clauses,
                perpetrators=prepared.perpetrators,
                affected_actors=prepared.affected,
                sources=list(dict.fromkeys(sources)),
                **{name: value for name, value in prepared.fields.items() if value is not None},
            )
    except ValidationError as exc:
        result.errors.extend(error_lines(exc, field_columns))
        result.new_sources.clear()
        result.reused_sources.clear()
        return
    except IntegrityError as exc:  # full_clean checks constraints first, so this means a race with another writer
        result.errors.append(f"The database refused the row: {exc}.")
        return
    result.violation_uuid = violation.uuid
    result.warnings.extend(duplicate_warning(hint) for hint in likely_duplicates(violation))
