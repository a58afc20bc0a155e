"""Reading the exported violations: in chunks, with their links read per chunk as plain id pairs and shared
reference objects (Django's prefetch_related would build a queryset per row and relation)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from agreements.exports.columns import _Citation, _Links
from agreements.models import Actor, Clause, Source, Violation, ViolationSource

# Rows fetched per database round trip; their links are read once per chunk, so queries grow with rows / 500.
CHUNK_SIZE = 500


def export_queryset(queryset: QuerySet[Violation]) -> QuerySet[Violation]:
    """The queryset with the joins the columns read; the many-to-many links are read by `_rows` per chunk."""
    return (
        queryset.select_related(
            "agreement",  # agreement slug
            "place",  # place name, admin areas, country, coordinates when the violation has none of its own
            "zone",  # zone slug
        )
        .defer("zone__geometry", "agreement__text", "agreement__summary")
        .prefetch_related(None)
    )


class Lookups:
    """Actors, clauses and sources by id, read once per export and shared by every row that links to them."""

    def __init__(self):
        self.by_model: dict[type, dict[int, object]] = {Actor: {}, Clause: {}, Source: {}}

    def get(self, model, ids) -> dict[int, object]:
        known = self.by_model[model]
        missing = set(ids) - known.keys()
        if missing:
            # Every linked row, retired ones included: a violation still cites the clause or source it cited.
            known.update(model._base_manager.in_bulk(missing))
        return known


def _pairs(through, ids, target: str) -> dict[int, list[int]]:
    linked: dict[int, list[int]] = {}
    for violation_id, target_id in through.objects.filter(violation_id__in=ids).values_list("violation_id", target):
        linked.setdefault(violation_id, []).append(target_id)
    return linked


def attach_links(batch: list[Violation], lookups: Lookups) -> list[Violation]:
    # Django's prefetch_related builds a queryset per row and relation; for exports of thousands of rows plain
    # (violation id, target id) pairs and shared objects are several times faster (see benchmarks/run.py).
    ids = [v.pk for v in batch]
    clause_ids = _pairs(Violation.clauses.through, ids, "clause_id")
    perpetrator_ids = _pairs(Violation.perpetrators.through, ids, "actor_id")
    affected_ids = _pairs(Violation.affected_actors.through, ids, "actor_id")
    citation_rows: dict[int, list[tuple[int, str]]] = {}
    for violation_id, source_id, note in (
        ViolationSource.objects.filter(violation_id__in=ids)
        .order_by("id")
        .values_list("violation_id", "source_id", "note")
    ):
        citation_rows.setdefault(violation_id, []).append((source_id, note))
    clauses = lookups.get(Clause, {i for group in clause_ids.values() for i in group})
    actors = lookups.get(Actor, {i for group in (*perpetrator_ids.values(), *affected_ids.values()) for i in group})
    sources = lookups.get(Source, {source_id for rows in citation_rows.values() for source_id, _ in rows})
    for v in batch:
        v._export_links = _Links(
            clauses=sorted(
                (clauses[i] for i in clause_ids.get(v.pk, [])), key=lambda c: (c.agreement_id, c.position, c.number)
            ),
            perpetrators=[actors[i] for i in perpetrator_ids.get(v.pk, [])],
            affected=[actors[i] for i in affected_ids.get(v.pk, [])],
            citations=[_Citation(sources[source_id], note) for source_id, note in citation_rows.get(v.pk, [])],
        )
    return batch


def violation_rows(queryset: QuerySet[Violation]) -> Iterator[Violation]:
    lookups = Lookups()
    batch: list[Violation] = []
    for violation in export_queryset(queryset).iterator(chunk_size=CHUNK_SIZE):
        batch.append(violation)
        if len(batch) == CHUNK_SIZE:
            yield from attach_links(batch, lookups)
            batch = []
    if batch:
        yield from attach_links(batch, lookups)
