"""factory_boy factories for the record. Violations are built through the service so tests exercise the real
write path (in-zone computed, version and reporter set), not a shortcut around it."""

from datetime import UTC, date, datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from agreements import services
from agreements.models import Actor, Agreement, Clause, Place, Source, Violation, Zone

# A 1°×1° square around (36.5 E, 35.5 N): easy to reason about in tests (inside, outside, on the edge).
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[36.0, 35.0], [37.0, 35.0], [37.0, 36.0], [36.0, 36.0], [36.0, 35.0]]],
}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("pass-word-123")

    @factory.post_generation
    def role(user, create, extracted, **kwargs):
        """`UserFactory(role="monitor")`: a member of one of the role groups (agreements/migrations/0002_roles.py)."""
        if create and extracted:
            user.groups.add(Group.objects.get(name=extracted))


class ActorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Actor

    name = factory.Sequence(lambda n: f"Actor {n}")
    slug = factory.Sequence(lambda n: f"actor-{n}")
    kind = Actor.Kind.STATE_FORCE


class AgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agreement

    slug = factory.Sequence(lambda n: f"agreement-{n}")
    title = factory.Sequence(lambda n: f"Memorandum {n}")
    signed_on = date(2018, 9, 17)
    in_force_from = date(2018, 9, 17)


class ClauseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clause

    agreement = factory.SubFactory(AgreementFactory)
    number = factory.Sequence(lambda n: str(n + 1))
    title = factory.Sequence(lambda n: f"Clause {n}")
    kind = Clause.Kind.OTHER
    terms = factory.LazyFunction(dict)


class ZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Zone

    agreement = factory.SubFactory(AgreementFactory)
    name = factory.Sequence(lambda n: f"Zone {n}")
    slug = factory.Sequence(lambda n: f"zone-{n}")
    kind = Zone.Kind.DEMILITARISED_ZONE
    geometry = factory.LazyFunction(lambda: dict(SQUARE))


class PlaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Place

    name = factory.Sequence(lambda n: f"Place {n}")
    admin1 = "Idlib"
    latitude = Decimal("35.5")
    longitude = Decimal("36.5")


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    publisher = "Example Wire"
    title = factory.Sequence(lambda n: f"Report {n}")
    url = factory.Sequence(lambda n: f"https://news.example.org/report-{n}")
    published_on = date(2019, 5, 7)
    kind = Source.Kind.NEWS_REPORT
    reliability = Source.Reliability.C
    credibility = Source.Credibility.POSSIBLY_TRUE


def make_violation(*, user=None, agreement=None, clauses=(), perpetrators=(), sources=(), **fields) -> Violation:
    """A valid violation recorded through the service; override any field."""
    user = user or UserFactory(role="monitor")
    agreement = agreement or AgreementFactory()
    fields.setdefault("category", Violation.Category.SHELLING)
    fields.setdefault("description", "Shelling reported.")
    fields.setdefault("started_at", datetime(2019, 5, 6, 4, 0, tzinfo=UTC))
    if "place" not in fields and "latitude" not in fields:
        fields["place"] = PlaceFactory()
    return services.violation_create(
        user=user, agreement=agreement, clauses=clauses, perpetrators=perpetrators, sources=sources, **fields
    )
