"""Synthetic violations for benchmarks: realistic shape (actors, clauses, places, sources, casualties), fast to make.

Rows are written with simple-history's `bulk_create_with_history`, so each has its creation in the history like
any other row; in-zone is computed with the same function the services use. Many-to-many links are bulk-inserted
without per-link history rows — acceptable for benchmark data, and the reason this is not an import path.
"""

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from simple_history.utils import bulk_create_with_history

from agreements import services
from agreements.models import Actor, Agreement, Clause, Place, Source, Violation, ViolationSource, Zone

NAMESPACE = uuid.UUID("5b0e7f64-3f8f-4d52-9d67-1f3c2b8a7d10")


@transaction.atomic
def generate(*, agreement: Agreement, count: int, seed: int, user, progress=None, batch: int = 2000) -> int:
    rng = random.Random(seed)
    actors = list(Actor.objects.exclude(kind=Actor.Kind.UNKNOWN))
    clauses = list(Clause.objects.filter(agreement=agreement))
    places = list(Place.objects.filter(kind=Place.Kind.SETTLEMENT))
    sources = list(Source.objects.all()[:20])
    zones = list(Zone.objects.filter(agreement=agreement, kind__in=Zone.RESTRICTING_KINDS))
    if not (actors and clauses and places and sources):
        raise ValueError("Load the agreement's reference data first (e.g. manage.py load_sochi).")
    start = datetime(2019, 1, 1, tzinfo=UTC)
    categories = list(Violation.Category.values)
    made = 0
    while made < count:
        rows = []
        for i in range(made, min(count, made + batch)):
            place = rng.choice(places)
            killed = rng.choice([None, 0, 0, 1, 2, 3, 5, 8, 13])
            violation = Violation(
                uuid=uuid.uuid5(NAMESPACE, f"{agreement.slug}/{seed}/{i}"),
                agreement=agreement,
                category=rng.choice(categories),
                description=f"Synthetic incident {i} near {place.name}.",
                started_at=start + timedelta(minutes=rng.randrange(0, 60 * 24 * 365 * 2)),
                time_precision=Violation.TimePrecision.DAY,
                place=place,
                latitude=place.latitude + Decimal(rng.randint(-200, 200)) / 10000,
                longitude=place.longitude + Decimal(rng.randint(-200, 200)) / 10000,
                location_precision=Violation.LocationPrecision.EXACT,
                killed_low=killed,
                killed_best=killed,
                killed_high=None if killed is None else killed + rng.randint(0, 3),
                reported_by=user,
            )
            services.violation_locate(violation, zones=zones)
            rows.append(violation)
        created = bulk_create_with_history(rows, Violation, default_user=user)
        # bulk_create does not return ids on every engine; read them back by the deterministic uuids.
        ids = dict(Violation.objects.filter(uuid__in=[v.uuid for v in created]).values_list("uuid", "id"))
        clause_links, perpetrator_links, citations = [], [], []
        for violation in created:
            pk = ids[violation.uuid]
            clause_links.append(Violation.clauses.through(violation_id=pk, clause_id=rng.choice(clauses).pk))
            for actor in rng.sample(actors, rng.choice([1, 1, 2])):
                perpetrator_links.append(Violation.perpetrators.through(violation_id=pk, actor_id=actor.pk))
            citations.append(ViolationSource(violation_id=pk, source_id=rng.choice(sources).pk))
        Violation.clauses.through.objects.bulk_create(clause_links)
        Violation.perpetrators.through.objects.bulk_create(perpetrator_links)
        bulk_create_with_history(citations, ViolationSource, default_user=user)
        made += len(rows)
        if progress:
            progress(made, count)
    return made
