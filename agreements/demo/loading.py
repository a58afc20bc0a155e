"""Loading an agreement's data directory (see `reading` for the files) through `agreements.services`, so every row
has its history.

Loading is idempotent: each record is looked up by its natural key and, when it exists, left exactly as it is
(monitors may have edited a loaded record; a reload must not overwrite them). Violations have fixed public ids,
`uuid5(VIOLATION_NAMESPACE, "<agreement slug>/<key>")`, so they are found again on the next run. Everything is
written in one transaction: a file that cannot be loaded (`DataError`) leaves the database as it was.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from agreements import services
from agreements.demo.reading import AgreementData, Entry, read
from agreements.models import (
    Actor,
    ActorAlias,
    Agreement,
    AgreementParty,
    Clause,
    ControlChange,
    Patrol,
    Place,
    PlaceAlias,
    RouteStatus,
    Source,
    Violation,
    ViolationSource,
    Zone,
)
from agreements.terms import actor_slugs_in_terms

SOCHI = Path(__file__).resolve().parent / "sochi"

# Fixed for ever: changing it would give every loaded violation a new public id (and load them a second time).
VIOLATION_NAMESPACE = uuid.UUID("84623c97-884c-4862-a0c1-a7f858937526")

# The order in which counts are kept and reported.
COUNTED_MODELS = (
    Actor,
    ActorAlias,
    Agreement,
    AgreementParty,
    Clause,
    Place,
    PlaceAlias,
    Zone,
    Source,
    Violation,
    ViolationSource,
    ControlChange,
    Patrol,
    RouteStatus,
)

LABELS = {ViolationSource: ("citation", "citations")}


def violation_uuid(agreement_slug: str, key: str) -> uuid.UUID:
    """The public id of the loaded violation with this key in the files of this agreement."""
    return uuid.uuid5(VIOLATION_NAMESPACE, f"{agreement_slug}/{key}")


def describe(counts: dict[str, int]) -> str:
    """ "Created 1 agreement, 10 clauses, …" for the counts `load()` returns; "" when nothing was created."""
    models = {model.__name__: model for model in COUNTED_MODELS}
    parts = []
    for name, count in counts.items():
        if not count:
            continue
        model = models.get(name)
        if model is None:
            singular, plural = name.lower(), f"{name.lower()}s"
        else:
            singular, plural = LABELS.get(model, (model._meta.verbose_name, model._meta.verbose_name_plural))
        parts.append(f"{count} {singular if count == 1 else plural}")
    return f"Created {', '.join(parts)}." if parts else ""


def load(directory: str | Path = SOCHI, *, user=None, stdout=None) -> dict[str, int]:
    """Load the agreement in `directory` (the Sochi demo by default); return how many rows of each model were
    created (all zero when already loaded). Raises DataError, writing nothing, when a file cannot be loaded."""
    data = read(directory)
    with transaction.atomic():
        loader = _Loader(data, user=user, stdout=stdout)
        loader.run()
    return loader.counts


class _Loader:
    def __init__(self, data: AgreementData, *, user, stdout):
        self.data = data
        self.stdout = stdout
        self.counts: dict[str, int] = {model.__name__: 0 for model in COUNTED_MODELS} | {"User": 0}
        self.user = user if user is not None else self._demo_user()
        self.actors: dict[str, Actor] = {}
        self.clauses: dict[str, Clause] = {}
        self.places: dict[str, Place] = {}
        self.sources: dict[str, Source] = {}
        self.violations: dict[str, Violation] = {}

    def _demo_user(self):
        User = get_user_model()
        username = self.data.demo_user
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, is_staff=False, is_superuser=False)
            user.set_unusable_password()
            user.save()
            self.counts["User"] = 1
            self._say(f"Created user {username!r} (no password, cannot log in) to attribute the demo records.")
        # The services ask the user's role: the demo's entries are a monitor's (and the reference an admin's).
        user.groups.add(*Group.objects.filter(name__in=["monitor", "admin"]))
        return user

    def _say(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message)

    def _created(self, model) -> None:
        self.counts[model.__name__] += 1

    def _save(self, entry: Entry, instance, **m2m):
        with _blamed(entry):
            services.model_save(instance=instance, user=self.user, m2m=m2m or None)
        self._created(type(instance))
        return instance

    def run(self) -> None:
        self.load_actors()
        self.load_agreement()
        self.load_clauses()
        self.load_places()
        self.load_zones()
        self.load_sources()
        self.load_violations()
        self.load_control_changes()
        self.load_patrols()
        self.load_route_statuses()

    # references

    def _actor(self, entry: Entry, slug: str | None) -> Actor | None:
        """An actor of the files, else one already in the database with that slug."""
        if slug is None:
            return None
        if slug not in self.actors:
            actor = Actor.objects.filter(slug=slug).first()
            if actor is None:
                raise entry.error(f"no actor {slug!r} in {self.data.directory} or in the database.")
            self.actors[slug] = actor
        return self.actors[slug]

    def _actor_list(self, entry: Entry, key: str) -> list[Actor]:
        return [self._actor(entry, slug) for slug in entry.refs.get(key, [])]

    def _one(self, entry: Entry, key: str, found: dict):
        name = entry.refs.get(key)
        return None if name is None else found[name]

    # actors and the agreement

    def load_actors(self) -> None:
        for entry in self.data.actors:
            spec = entry.values
            actor = Actor.objects.filter(slug=spec["slug"]).first() or Actor.objects.filter(name=spec["name"]).first()
            if actor is None:
                actor = Actor(**spec, part_of=self._actor(entry, entry.refs.get("part_of")))
                self._save(entry, actor, backed_by=self._actor_list(entry, "backed_by"))
            self.actors[spec["slug"]] = actor
            for name, language in entry.refs.get("aliases", []):
                if not ActorAlias.objects.filter(actor=actor, name=name).exists():
                    self._save(entry, ActorAlias(actor=actor, name=name, language=language))

    def load_agreement(self) -> None:
        entry = self.data.agreement
        self.agreement = Agreement.objects.filter(slug=entry.values["slug"]).first()
        if self.agreement is None:
            self.agreement = self._save(entry, Agreement(**entry.values))
        for slug, role in self.data.parties:
            actor = self._actor(entry, slug)
            if not AgreementParty.objects.filter(agreement=self.agreement, actor=actor, role=role).exists():
                self._save(entry, AgreementParty(agreement=self.agreement, actor=actor, role=role))

    def load_clauses(self) -> None:
        for position, entry in enumerate(self.data.clauses, start=1):
            spec = entry.values
            clause = Clause.objects.filter(agreement=self.agreement, number=spec["number"]).first()
            if clause is None:
                terms = self._terms(entry, spec["kind"], spec.get("terms", {}))
                clause = Clause(**{**spec, "terms": terms}, agreement=self.agreement, position=position)
                with _blamed(entry):
                    services.clause_save(
                        clause=clause, user=self.user, obligated_actors=self._actor_list(entry, "obligated")
                    )
                self._created(Clause)
            self.clauses[spec["number"]] = clause

    def _terms(self, entry: Entry, kind: str, terms: dict) -> dict:
        """The terms with the files' actor slugs replaced by the slugs the actors have in this database."""
        named = actor_slugs_in_terms(kind, terms)
        return {
            key: [self._actor(entry, s).slug for s in value] if key in named else value for key, value in terms.items()
        }

    # places and zones

    def load_places(self) -> None:
        for entry in self.data.places:
            spec = entry.values
            found = Place.objects.filter(name=spec["name"], admin1=spec.get("admin1", ""))
            place = found.filter(admin2="").first() or found.first()
            if place is None:
                place = Place(**spec)
                with _blamed(entry):
                    services.place_save(place=place, user=self.user)
                self._created(Place)
            self.places[spec["name"]] = place
            for name, language in entry.refs.get("aliases", []):
                if not PlaceAlias.objects.filter(place=place, name=name).exists():
                    self._save(entry, PlaceAlias(place=place, name=name, language=language))

    def load_zones(self) -> None:
        for entry in self.data.zones:
            if Zone.objects.filter(agreement=self.agreement, slug=entry.values["slug"]).exists():
                continue
            zone = Zone(**entry.values, agreement=self.agreement, clause=self._one(entry, "clause", self.clauses))
            with _blamed(entry):
                services.zone_save(zone=zone, user=self.user)
            self._created(Zone)

    # what happened

    def load_sources(self) -> None:
        for entry in self.data.sources:
            spec = entry.values
            source = services.source_known(url=spec["url"], publisher=spec["publisher"], title=spec["title"])
            if source is None:
                source = self._save(entry, Source(**spec))
            self.sources[entry.name] = source

    def load_violations(self) -> None:
        slug = self.data.agreement.values["slug"]  # the files' slug, whatever the agreement was renamed to
        for entry in self.data.violations:
            public_id = violation_uuid(slug, entry.name)
            violation = Violation.objects.filter(uuid=public_id).first()
            if violation is None:
                violation = self._record_violation(entry, public_id)
            self.violations[entry.name] = violation

    def _record_violation(self, entry: Entry, public_id: uuid.UUID) -> Violation:
        with _blamed(entry):
            violation = services.violation_create(
                user=self.user,
                agreement=self.agreement,
                clauses=[self.clauses[number] for number in entry.refs.get("clauses", [])],
                perpetrators=self._actor_list(entry, "perpetrators"),
                affected_actors=self._actor_list(entry, "affected"),
                uuid=public_id,
                place=self._one(entry, "place", self.places),
                **entry.values,
            )
            self._created(Violation)
            for source, note in entry.refs.get("citations", []):
                services.violation_cite(
                    violation=violation,
                    source=self.sources[source],
                    user=self.user,
                    note=note,
                    new_record=True,  # cited as it is recorded: part of its first version
                )
                self._created(ViolationSource)
        return violation

    def load_control_changes(self) -> None:
        for entry in self.data.control_changes:
            spec = entry.values
            place = self._one(entry, "place", self.places)
            key = {"agreement": self.agreement, "occurred_on": spec["occurred_on"], "place": place}
            found = ControlChange.objects.filter(**key)
            if place is None:  # unnamed locations are told apart by how the source describes them
                found = found.filter(area_description=spec.get("area_description", ""))
            if found.exists():
                continue
            change = ControlChange(
                **key,
                **{name: value for name, value in spec.items() if name not in key},
                from_actor=self._actor(entry, entry.refs.get("from_actor")),
                to_actor=self._actor(entry, entry.refs.get("to_actor")),
                violation=self._one(entry, "violation", self.violations),
                source=self._one(entry, "source", self.sources),
            )
            self._save(entry, change)

    def load_patrols(self) -> None:
        for entry in self.data.patrols:
            spec = entry.values
            key = {"agreement": self.agreement, "patrolled_on": spec["patrolled_on"], "kind": spec["kind"]}
            if Patrol.objects.filter(**key).exists():
                continue
            patrol = Patrol(
                **key,
                **{name: value for name, value in spec.items() if name not in key},
                clause=self._one(entry, "clause", self.clauses),
                source=self._one(entry, "source", self.sources),
            )
            self._save(
                entry,
                patrol,
                participants=self._actor_list(entry, "participants"),
                incidents=[self.violations[k] for k in entry.refs.get("incidents", [])],
            )

    def load_route_statuses(self) -> None:
        for entry in self.data.route_statuses:
            spec = entry.values
            key = {
                "agreement": self.agreement,
                "route": spec["route"],
                "segment": spec.get("segment", ""),
                "observed_on": spec["observed_on"],
            }
            if RouteStatus.objects.filter(**key).exists():
                continue
            status = RouteStatus(
                **key,
                **{name: value for name, value in spec.items() if name not in key},
                clause=self._one(entry, "clause", self.clauses),
                source=self._one(entry, "source", self.sources),
            )
            self._save(entry, status)


class _blamed:
    """Turns a ValidationError of the services into a DataError naming the entry that caused it."""

    def __init__(self, entry: Entry):
        self.entry = entry

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if isinstance(exc, ValidationError):
            raise self.entry.error("; ".join(_messages(exc))) from exc
        return False


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{name}: {' '.join(m for e in errors for m in e.messages)}" for name, errors in exc.error_dict.items()]
    return list(exc.messages)
