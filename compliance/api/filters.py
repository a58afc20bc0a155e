"""Filters of the API, declared explicitly per resource. Many-to-many filters use subqueries, so a violation never
appears twice in a list (or counts twice in a statistic) because it matched through two actors."""

import re
from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from rest_framework.exceptions import ValidationError

from agreements.models import (
    Actor,
    ActorAlias,
    Agreement,
    Clause,
    ControlChange,
    Patrol,
    Place,
    PlaceAlias,
    RouteStatus,
    Violation,
    Zone,
)
from compliance.dates import DAY_SCHEMA, INSTANT_SCHEMA, day_out_of_range


class DayField(forms.DateField):
    def to_python(self, value):
        value = super().to_python(value)
        problem = value and day_out_of_range(value)
        if problem:
            raise forms.ValidationError(problem)
        return value


class InstantField(IsoDateTimeField):
    """An ISO 8601 time, taken as UTC. Its date as written must lie within the accepted range (what the schema's
    pattern says, and what keeps year 1 or 9999 plus an offset from overflowing); an offset Python reads but
    PostgreSQL does not (+16:56) is then converted here."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        problem = day_out_of_range(value.date())
        if problem:
            raise forms.ValidationError(problem)
        return value.astimezone(UTC)


class IdField(forms.IntegerField):
    """A row id: a positive bigint. (NumberFilter takes any decimal, which SQLite cannot bind past 64 bits.)"""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.NullBooleanField):
    """true or false; empty is no filter. Django's own reads any other word as "no filter", silently."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value not in ("true", "false"):
            raise forms.ValidationError("Give true or false.")
        return value == "true"


# `parameter_schema` is what the schema says of a filter's value (see StrictFilterExtension); the filter's form
# field refuses with a 400 whatever lies outside it.
class IdFilter(filters.NumberFilter):
    field_class = IdField
    parameter_schema = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}


class DateFilter(filters.DateFilter):
    field_class = DayField
    parameter_schema = DAY_SCHEMA


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = InstantField
    parameter_schema = INSTANT_SCHEMA


class BooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField
    parameter_schema = {"type": "boolean"}

    def __init__(self, *args, **kwargs):
        # django-filter's widget turns any other word into None before the field sees it.
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class FilterBackend(filters.DjangoFilterBackend):
    """django-filter's backend, which builds the filter set's form (a deep copy of every filter and field, ~1 ms)
    only when the request names one of its filters: a filter set with an `unfiltered` class method says what the
    empty filter gives, so a dashboard's plain page skips the form."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        unfiltered = getattr(filterset_class, "unfiltered", None)
        if unfiltered is not None and not _names_a_filter(request.query_params, filterset_class.base_filters):
            return unfiltered(queryset)
        return super().filter_queryset(request, queryset, view)


def _names_a_filter(params, filter_names) -> bool:
    # A filter may read several parameters (a range's `_after`/`_before`): its name as a prefix counts.
    return any(param == name or param.startswith(name + "_") for param in params for name in filter_names)


class StrictFilterExtension(DjangoFilterExtension):
    """drf-spectacular's reading of our filters, corrected where it guesses from the model or says too little:

    - a filter with a `parameter_schema` is documented with it (ids: positive bigints; days and times: within the
      accepted range);
    - a choice filter whose choices are words is a string, whatever the model field it is named after (in_zone).
    """

    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(auto_schema, model, filterset_class, field_name, filter_field)
        for parameter in parameters:
            schema = parameter["schema"]
            if getattr(filter_field, "parameter_schema", None):
                schema.update(filter_field.parameter_schema)
            elif isinstance(filter_field, filters.ChoiceFilter) and all(
                isinstance(value, str) for value in schema.get("enum", [])
            ):
                schema["type"] = "string"
                schema.pop("nullable", None)
        return parameters


def utc_day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def is_id(value: str) -> bool:
    """Digits that can be a row id. str.isdigit() alone also takes "²" and "١", which int() refuses or reads."""
    return value.isascii() and value.isdigit() and len(value) <= 19


def actor_q(value: str) -> Q:
    return Q(pk=int(value)) if is_id(value) else Q(slug=value)


_DEGREES = r"-?[0-9]{1,3}(\.[0-9]+)?"
BBOX_PATTERN = f"^{_DEGREES},{_DEGREES},{_DEGREES},{_DEGREES}$"


class BBoxFilter(filters.CharFilter):
    """bbox=min_lon,min_lat,max_lon,max_lat — edges included. Numbers as the schema's pattern spells them: float()
    alone would also read `1e1`, `inf` or ` 5`, which the schema says are refused."""

    parameter_schema = {"type": "string", "pattern": BBOX_PATTERN}

    def __init__(self, *args, lat="latitude", lon="longitude", **kwargs):
        self.lat, self.lon = lat, lon
        kwargs.setdefault("help_text", "min_lon,min_lat,max_lon,max_lat (WGS84 degrees); points on the edge match.")
        kwargs.setdefault("strip", False)  # " 36,…" is not what the pattern takes
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if not value:
            return qs
        if not re.fullmatch(BBOX_PATTERN, value):
            raise ValidationError({"bbox": "bbox takes four numbers: min_lon,min_lat,max_lon,max_lat."})
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in value.split(","))
        if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
            raise ValidationError({"bbox": "bbox must have min ≤ max, longitudes within ±180, latitudes within ±90."})
        return qs.filter(
            **{f"{self.lat}__gte": min_lat, f"{self.lat}__lte": max_lat},
            **{f"{self.lon}__gte": min_lon, f"{self.lon}__lte": max_lon},
        )


# How the violation list may be ordered (?ordering=), and its order by default: the API and the export jobs read
# them here, so that an async export lists the rows in the order the list would.
VIOLATION_ORDERING_FIELDS = ["started_at", "updated_at", "created_at", "killed_best", "id"]
VIOLATION_ORDERING = ["-started_at", "-id"]


class ViolationFilter(filters.FilterSet):
    agreement = filters.CharFilter(field_name="agreement__slug", help_text="Agreement slug.")
    clause = IdFilter(method="filter_clause", help_text="Clause id.")
    clause_number = filters.CharFilter(method="filter_clause_number", help_text="Clause number, e.g. 6.")
    actor = filters.CharFilter(method="filter_actor", help_text="Actor id or slug, as perpetrator or affected.")
    perpetrator = filters.CharFilter(method="filter_perpetrator", help_text="Actor id or slug, as perpetrator.")
    # A plain column: no join can repeat a row, so no DISTINCT (django-filter's default) over every column.
    category = filters.MultipleChoiceFilter(choices=Violation.Category.choices, distinct=False)
    status = filters.MultipleChoiceFilter(choices=Violation.Status.choices)
    occurred_after = DateFilter(method="filter_started_from", help_text="On or after (the UTC day).")
    occurred_before = DateFilter(method="filter_started_until", help_text="On or before (the UTC day).")
    in_zone = filters.ChoiceFilter(
        choices=[("true", "inside"), ("false", "outside"), ("unknown", "location too coarse to tell")],
        method="filter_in_zone",
        help_text="true, false or unknown; anything else is refused.",
    )
    place = IdFilter(field_name="place_id")
    admin1 = filters.CharFilter(field_name="place__admin1", lookup_expr="iexact")
    bbox = BBoxFilter(lat="point_lat", lon="point_lon")
    search = filters.CharFilter(method="filter_search", help_text="Words in the description or place name.")
    updated_since = IsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gt",
        help_text="Changed after this time (ISO 8601). Includes retracted rows, marked retracted, so a mirror can drop "
        "them.",
    )
    include_retracted = BooleanFilter(method="filter_noop", help_text="Staff: include retracted rows.")

    # Bounds as instants on the column itself, so its index serves them; `started_at__date` casts every row.
    def filter_started_from(self, queryset, name, value):
        return queryset.filter(started_at__gte=utc_day_start(value))

    def filter_started_until(self, queryset, name, value):
        return queryset.filter(started_at__lt=utc_day_start(value + timedelta(days=1)))

    class Meta:
        model = Violation
        fields = []

    @classmethod
    def unfiltered(cls, queryset):
        """What filter_queryset gives when the request names no filter (FilterBackend skips the form then)."""
        return queryset.standing()

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        if not (data.get("updated_since") or data.get("include_retracted")):
            queryset = queryset.standing()
        if data.get("bbox"):
            queryset = queryset.annotate(
                point_lat=Coalesce("latitude", "place__latitude"), point_lon=Coalesce("longitude", "place__longitude")
            )
        return super().filter_queryset(queryset)

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_in_zone(self, queryset, name, value):
        if value == "unknown":
            return queryset.filter(in_zone__isnull=True)
        return queryset.filter(in_zone=value == "true")

    def filter_clause(self, queryset, name, value):
        through = Violation.clauses.through.objects.filter(violation=OuterRef("pk"), clause_id=value)
        return queryset.filter(Exists(through))

    def filter_clause_number(self, queryset, name, value):
        through = Violation.clauses.through.objects.filter(violation=OuterRef("pk"), clause__number=value)
        return queryset.filter(Exists(through))

    def filter_perpetrator(self, queryset, name, value):
        actors = Actor.objects.filter(actor_q(value)).values("pk")
        through = Violation.perpetrators.through.objects.filter(violation=OuterRef("pk"), actor__in=actors)
        return queryset.filter(Exists(through))

    def filter_actor(self, queryset, name, value):
        actors = Actor.objects.filter(actor_q(value)).values("pk")
        by = Violation.perpetrators.through.objects.filter(violation=OuterRef("pk"), actor__in=actors)
        on = Violation.affected_actors.through.objects.filter(violation=OuterRef("pk"), actor__in=actors)
        return queryset.filter(Exists(by) | Exists(on))

    def filter_search(self, queryset, name, value):
        query = Q()
        for word in value.split():
            query &= Q(description__icontains=word) | Q(place__name__icontains=word)
        return queryset.filter(query)


class ActorFilter(filters.FilterSet):
    kind = filters.MultipleChoiceFilter(choices=Actor.Kind.choices)
    part_of = filters.CharFilter(method="filter_part_of", help_text="Actor id or slug.")
    search = filters.CharFilter(method="filter_search", help_text="Name, short name or alias.")
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")

    class Meta:
        model = Actor
        fields = []

    def filter_part_of(self, queryset, name, value):
        return queryset.filter(part_of__in=Actor.objects.filter(actor_q(value)))

    def filter_search(self, queryset, name, value):
        aliases = ActorAlias.objects.filter(actor=OuterRef("pk"), name__icontains=value)
        return queryset.filter(Q(name__icontains=value) | Q(short_name__icontains=value) | Exists(aliases))


class AgreementFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Agreement.Status.choices)
    search = filters.CharFilter(method="filter_search")
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")

    class Meta:
        model = Agreement
        fields = []

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(short_title__icontains=value) | Q(slug__icontains=value))


class ClauseFilter(filters.FilterSet):
    agreement = filters.CharFilter(field_name="agreement__slug")
    kind = filters.MultipleChoiceFilter(choices=Clause.Kind.choices)
    number = filters.CharFilter()
    deadline_before = DateFilter(field_name="deadline", lookup_expr="lte")
    deadline_after = DateFilter(field_name="deadline", lookup_expr="gte")
    actor = filters.CharFilter(method="filter_actor", help_text="Obligated actor id or slug.")
    search = filters.CharFilter(method="filter_search")
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")

    class Meta:
        model = Clause
        fields = []

    def filter_actor(self, queryset, name, value):
        actors = Actor.objects.filter(actor_q(value)).values("pk")
        through = Clause.obligated_actors.through.objects.filter(clause=OuterRef("pk"), actor__in=actors)
        return queryset.filter(Exists(through))

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(text__icontains=value))


class ZoneFilter(filters.FilterSet):
    agreement = filters.CharFilter(field_name="agreement__slug")
    kind = filters.MultipleChoiceFilter(choices=Zone.Kind.choices)
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")

    class Meta:
        model = Zone
        fields = []


class PlaceFilter(filters.FilterSet):
    kind = filters.MultipleChoiceFilter(choices=Place.Kind.choices)
    admin1 = filters.CharFilter(lookup_expr="iexact")
    admin2 = filters.CharFilter(lookup_expr="iexact")
    pcode = filters.CharFilter()
    bbox = BBoxFilter()
    search = filters.CharFilter(method="filter_search", help_text="Name or alias.")
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")

    class Meta:
        model = Place
        fields = []

    def filter_search(self, queryset, name, value):
        aliases = PlaceAlias.objects.filter(place=OuterRef("pk"), name__icontains=value)
        return queryset.filter(Q(name__icontains=value) | Exists(aliases))


class DatedFilter(filters.FilterSet):
    """Shared by patrols, route statuses and control changes: agreement, clause and a date range."""

    agreement = filters.CharFilter(field_name="agreement__slug")
    occurred_after = DateFilter(method="filter_after", help_text="On or after.")
    occurred_before = DateFilter(method="filter_before", help_text="On or before.")
    updated_since = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gt")
    date_field = ""

    def filter_after(self, queryset, name, value):
        return queryset.filter(**{f"{self.date_field}__gte": value})

    def filter_before(self, queryset, name, value):
        return queryset.filter(**{f"{self.date_field}__lte": value})


class PatrolFilter(DatedFilter):
    date_field = "patrolled_on"
    clause = IdFilter(field_name="clause_id")
    kind = filters.MultipleChoiceFilter(choices=Patrol.Kind.choices)
    outcome = filters.MultipleChoiceFilter(choices=Patrol.Outcome.choices)
    actor = filters.CharFilter(method="filter_actor", help_text="Participant id or slug.")

    class Meta:
        model = Patrol
        fields = []

    def filter_actor(self, queryset, name, value):
        actors = Actor.objects.filter(actor_q(value)).values("pk")
        through = Patrol.participants.through.objects.filter(patrol=OuterRef("pk"), actor__in=actors)
        return queryset.filter(Exists(through))


class RouteStatusFilter(DatedFilter):
    date_field = "observed_on"
    clause = IdFilter(field_name="clause_id")
    route = filters.CharFilter(lookup_expr="iexact")
    status = filters.MultipleChoiceFilter(choices=RouteStatus.Status.choices)

    class Meta:
        model = RouteStatus
        fields = []


class ControlChangeFilter(DatedFilter):
    date_field = "occurred_on"
    place = IdFilter(field_name="place_id")
    actor = filters.CharFilter(method="filter_actor", help_text="Actor id or slug, gaining or losing control.")

    class Meta:
        model = ControlChange
        fields = []

    def filter_actor(self, queryset, name, value):
        actors = Actor.objects.filter(actor_q(value))
        return queryset.filter(Q(from_actor__in=actors) | Q(to_actor__in=actors))
