"""The bulk writer: many violations with their links, sources, citations and history in a few statements per batch,
to the same rows the services write one by one (tests/agreements/test_bulk_import.py compares them field by field).

What `services.violation_create` decides for one row is decided here for a batch with the same functions:
permission (once), `violation_locate` (in-zone, with the agreement's zones loaded once), `violation_check_dates`,
field validation (`full_clean` without its per-row queries), source reuse by `services.source_known`'s rule. Check
and unique constraints are asked of the database, once per batch: a batch it refuses is rolled back to its savepoint
and its rows written again through the services, which name each row's errors exactly as the one-row path does.

History: a violation's creation ("+"), then one "~" entry per non-empty link set with the links as they stood (as
simple-history records `.set()` of clauses, perpetrators, affected actors in that order), a "+" for each citation
and each new source; all attributed to the importing user, dated when the batch was written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from agreements import services
from agreements.duplicates import DEFAULT_KM, haversine_km
from agreements.importing.readers import Prepared
from agreements.importing.results import RowResult
from agreements.importing.rows import history_row, insert, insert_rows, insert_with_history
from agreements.importing.writing import duplicate_text, error_lines, write_row
from agreements.models import Source, Violation, ViolationSource, Zone
from agreements.services import permissions
from agreements.services.base import refuse
from compliance import freshness

BATCH_SIZE = 2000
M2M_FIELDS = ("clauses", "perpetrators", "affected_actors")
_CANDIDATE_COLUMNS = (
    "pk",
    "uuid",
    "category",
    "started_at",
    "place_id",
    "latitude",
    "longitude",
    "place__latitude",
    "place__longitude",
)
# Foreign keys full_clean would fetch one query each; they are loaded objects here, checked by the database.
_LOADED_FOREIGN_KEYS = ["agreement", "place", "zone", "reported_by", "updated_by", "verified_by", "retracted_by"]


@dataclass
class _Pending:
    violation: Violation
    prepared: Prepared
    result: RowResult
    source_keys: list[tuple]


def source_key(new: services.NewSource) -> tuple | None:
    """What `services.source_known` looks a source up by; None when it would look up nothing (always new)."""
    if new.url:
        return ("url", new.url)
    if new.publisher and new.title:
        return ("title", new.publisher, new.title)
    return None


class BulkWriter:
    """Collects validated rows and writes them `batch_size` at a time; `finish()` writes the last batch.

    With `check_duplicates`, each row gets the "possible duplicate" warnings the one-row path gives (one query per
    batch); the synthetic data generator does without."""

    def __init__(
        self,
        *,
        agreement,
        user,
        zones: list[Zone] | None = None,
        batch_size: int = BATCH_SIZE,
        check_duplicates: bool = True,
        field_columns: dict[str, str] | None = None,
    ):
        refuse(permissions.violation_create_refusal(user=user))
        self.agreement, self.user, self.batch_size = agreement, user, batch_size
        self.zones = (
            zones
            if zones is not None
            else list(Zone.objects.filter(agreement=agreement, kind__in=Zone.RESTRICTING_KINDS))
        )
        self.check_duplicates = check_duplicates
        self.field_columns = field_columns or {}
        self.pending: list[_Pending] = []
        self.sources: dict[tuple, Source] = {}  # found or created by this import, by `source_key`
        self._batch_sources: list[Source] = []  # created by the batch being written (gone if it is rolled back)
        self.written = 0

    # validating in memory

    def add(self, prepared: Prepared, result: RowResult) -> None:
        """Validate the row as the services would; a valid row is queued, an invalid one gets its errors."""
        fields = {name: value for name, value in prepared.fields.items() if value is not None}
        violation = Violation(**fields, reported_by=self.user, version=1)
        try:
            services.violation_locate(violation, zones=self.zones)
            services.violation_check_dates(violation)
            violation.full_clean(exclude=_LOADED_FOREIGN_KEYS, validate_unique=False, validate_constraints=False)
            new_sources = [self._new_source(new) for new in prepared.sources]
        except ValidationError as exc:
            result.errors.extend(error_lines(exc, self.field_columns))
            return
        keys = [
            source_key(new) or ("new", id(source)) for new, source in zip(prepared.sources, new_sources, strict=True)
        ]
        for new, key, source in zip(prepared.sources, keys, new_sources, strict=True):
            label = f"{new.publisher}: {new.title}"
            known = key in self.sources or source.pk is not None
            (result.reused_sources if known else result.new_sources).append(label)
            self.sources.setdefault(key, source)
        self.pending.append(_Pending(violation, prepared, result, list(dict.fromkeys(keys))))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def _new_source(self, new: services.NewSource) -> Source:
        """The stored source for this article if there is one, else an unsaved one, validated in memory."""
        key = source_key(new)
        if key in self.sources:
            return self.sources[key]
        if key is not None:
            existing = services.source_known(url=new.url, publisher=new.publisher, title=new.title)
            if existing is not None:
                return existing
        source = new.as_source()
        source.full_clean(validate_unique=False, validate_constraints=False)
        return source

    # writing

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            with transaction.atomic():
                self._write(batch)
        except IntegrityError:
            # A constraint the database holds refused a row: the services say which, row by row.
            self._forget_new_sources(batch)
            for item in batch:
                item.result.new_sources.clear()
                item.result.reused_sources.clear()
                write_row(item.prepared, user=self.user, result=item.result, field_columns=self.field_columns)
            return
        for item in batch:
            item.result.violation_uuid = item.violation.uuid
        if self.check_duplicates:
            self._warn_duplicates(batch)
        self.written += len(batch)

    def finish(self) -> int:
        self.flush()
        return self.written

    def _forget_new_sources(self, batch: list[_Pending]) -> None:
        # Rolled back with the batch: later rows find them again by `source_known` (the fallback may create them).
        gone = {id(source) for source in self._batch_sources}
        self.sources = {
            key: source for key, source in self.sources.items() if source.pk is not None and id(source) not in gone
        }

    def _write(self, batch: list[_Pending]) -> None:
        now = timezone.now()
        new_sources = [
            self.sources[key]
            for key in dict.fromkeys(key for item in batch for key in item.source_keys)
            if self.sources[key].pk is None
        ]
        self._batch_sources = new_sources
        insert_with_history(Source, new_sources, user=self.user, when=now)
        insert(Violation, [item.violation for item in batch])
        self._write_links(batch, now)
        citations = [
            ViolationSource(violation_id=item.violation.pk, source_id=self.sources[key].pk)
            for item in batch
            for key in item.source_keys
        ]
        insert_with_history(ViolationSource, citations, user=self.user, when=now)
        freshness.touch()  # set-based inserts send no model signals: say that the record changed

    def _write_links(self, batch: list[_Pending], now: datetime) -> None:
        """The link rows, then each violation's creation in the history with its links, as one service save writes
        it (`services.violations.save_with_links`)."""
        by_violation: dict[str, dict[int, list[dict]]] = {}
        for name in M2M_FIELDS:
            through = getattr(Violation, name).through
            target = f"{getattr(Violation, name).field.m2m_reverse_field_name()}_id"
            rows = [
                {"violation_id": item.violation.pk, target: linked.pk}
                for item in batch
                for linked in _linked(item.prepared, name)
            ]
            by_violation[name] = defaultdict(list)
            for pk, row in zip(insert_rows(through, rows), rows, strict=True):
                row["id"] = pk
                by_violation[name][row["violation_id"]].append(row)
        _history_of_links(batch, by_violation, user=self.user, now=now)

    def _warn_duplicates(self, batch: list[_Pending]) -> None:
        """`likely_duplicates` for the whole batch in one query: each row against the rows recorded before it.

        The candidates are read as plain values (a batch may meet tens of thousands recorded the same days) and
        compared as `duplicates._compare` compares two records: same place, or points within DEFAULT_KM."""
        days = {_utc_day(item.violation.started_at) for item in batch}
        within_days = models.Q()
        for day in days:
            within_days |= models.Q(started_at__gte=day, started_at__lt=day + timedelta(days=1))
        candidates = (
            Violation.objects.standing()
            .filter(within_days, agreement=self.agreement)
            .filter(category__in={item.violation.category for item in batch})
            .order_by("started_at", "id")
            .values_list(*_CANDIDATE_COLUMNS)
        )
        groups = defaultdict(list)
        for row in candidates:
            groups[(row[2], _utc_day(row[3]))].append(row)
        labels = dict(Violation.Category.choices)
        for item in batch:
            violation = item.violation
            point = violation.point()
            hints = []
            for pk, public_id, category, started_at, place_id, *coordinates in groups[
                (violation.category, _utc_day(violation.started_at))
            ]:
                if pk >= violation.pk:
                    continue
                same_place = violation.place_id is not None and violation.place_id == place_id
                other = _point(*coordinates)
                distance = haversine_km(point, other) if point and other else None
                if same_place or (distance is not None and distance <= DEFAULT_KM):
                    hints.append(
                        (not same_place, distance or 0.0, public_id, labels[category], started_at, same_place, distance)
                    )
            hints.sort(key=lambda hint: hint[:2])
            item.result.warnings.extend(duplicate_text(*hint[2:]) for hint in hints)


def _linked(prepared: Prepared, name: str) -> list:
    return {"clauses": prepared.clauses, "perpetrators": prepared.perpetrators, "affected_actors": prepared.affected}[
        name
    ]


def _point(latitude, longitude, place_latitude, place_longitude) -> tuple[float, float] | None:
    # Violation.point(): its own coordinates, else its place's.
    if latitude is not None and longitude is not None:
        return float(longitude), float(latitude)
    if place_latitude is not None:
        return float(place_longitude), float(place_latitude)
    return None


def _utc_day(moment: datetime) -> datetime:
    return datetime.combine(moment.astimezone(UTC).date(), time(0), tzinfo=UTC)


def _history_of_links(batch: list[_Pending], by_violation: dict, *, user, now: datetime) -> None:
    history_model = Violation.history.model
    tracked = [field.attname for field in history_model.tracked_fields]
    entries = [history_row(item.violation, tracked, kind="+", user=user, when=now) for item in batch]
    rows: dict[str, list[dict]] = defaultdict(list)
    for entry_id, item in zip(insert_rows(history_model, entries), batch, strict=True):
        for name in M2M_FIELDS:
            rows[name].extend({**link, "history_id": entry_id} for link in by_violation[name][item.violation.pk])
    for name, link_rows in rows.items():
        insert_rows(getattr(history_model, name).model, link_rows)
