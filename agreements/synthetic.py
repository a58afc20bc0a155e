"""Synthetic violations for benchmarks: realistic shape (actors, clauses, places, sources, casualties), fast to make.

Written by the import's bulk writer (agreements/importing/bulk.py), so each row is validated and recorded as an
import would record it — in-zone by the geography service, links and citations with their history, attributed to
`user` — in batches of `batch` rows, each batch its own transaction (a million rows is minutes of work, and an
interrupted run keeps the batches it finished).
"""

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from agreements import services
from agreements.importing.bulk import BulkWriter
from agreements.importing.readers import Prepared
from agreements.importing.results import RowResult
from agreements.models import Actor, Agreement, Clause, Place, Source, Violation, Zone

NAMESPACE = uuid.UUID("5b0e7f64-3f8f-4d52-9d67-1f3c2b8a7d10")


def _cited(source: Source) -> services.NewSource:
    # Described as an import would describe it, so the writer finds the stored source by the services' rule.
    return services.NewSource(publisher=source.publisher, title=source.title, kind=source.kind, url=source.url)


def generate(*, agreement: Agreement, count: int, seed: int, user, progress=None, batch: int = 5000) -> int:
    rng = random.Random(seed)
    actors = list(Actor.objects.exclude(kind=Actor.Kind.UNKNOWN))
    clauses = list(Clause.objects.filter(agreement=agreement))
    places = list(Place.objects.filter(kind=Place.Kind.SETTLEMENT))
    sources = [_cited(source) for source in Source.objects.all()[:20]]
    zones = list(Zone.objects.filter(agreement=agreement, kind__in=Zone.RESTRICTING_KINDS))
    if not (actors and clauses and places and sources):
        raise ValueError("Load the agreement's reference data first (e.g. manage.py load_sochi).")
    writer = BulkWriter(agreement=agreement, user=user, zones=zones, batch_size=batch, check_duplicates=False)
    start = datetime(2019, 1, 1, tzinfo=UTC)
    categories = list(Violation.Category.values)
    for i in range(count):
        place = rng.choice(places)
        killed = rng.choice([None, 0, 0, 1, 2, 3, 5, 8, 13])
        fields = {
            "uuid": uuid.uuid5(NAMESPACE, f"{agreement.slug}/{seed}/{i}"),
            "agreement": agreement,
            "category": rng.choice(categories),
            "description": f"Synthetic incident {i} near {place.name}.",
            "started_at": start + timedelta(minutes=rng.randrange(0, 60 * 24 * 365 * 2)),
            "time_precision": Violation.TimePrecision.DAY,
            "place": place,
            "latitude": place.latitude + Decimal(rng.randint(-200, 200)) / 10000,
            "longitude": place.longitude + Decimal(rng.randint(-200, 200)) / 10000,
            "location_precision": Violation.LocationPrecision.EXACT,
            "killed_low": killed,
            "killed_best": killed,
            "killed_high": None if killed is None else killed + rng.randint(0, 3),
        }
        row = Prepared(
            fields=fields,
            clauses=[rng.choice(clauses)],
            perpetrators=rng.sample(actors, rng.choice([1, 1, 2])),
            affected=[],
            sources=[rng.choice(sources)],
        )
        result = RowResult(number=i + 1)
        writer.add(row, result)
        if result.errors:
            raise ValueError(f"Synthetic row {i} is refused: {'; '.join(result.errors)}")
        if progress and writer.written and not writer.pending:
            progress(writer.written, count)
    made = writer.finish()
    if progress:
        progress(made, count)
    return made
