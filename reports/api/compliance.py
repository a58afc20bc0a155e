"""Compliance over HTTP: thin faces over `reports.engine` and `reports.assessments`.

    GET /api/v1/agreements/{slug}/compliance?from=&to=[&actor=]            assess_agreement(...).as_dict()
    GET /api/v1/agreements/{slug}/compliance/timeline?from=&to=&step=[&actor=]   compliance_timeline(...)

People's assessments (/api/v1/assessments/) are in `reports.api.assessments`; the documented shape of the answers
in `reports.api.compliance_schema`.

Conditional GETs: the compliance answers depend on every row the engine reads, so their ETag comes from
`record_state` — the latest `updated_at` and the row count of the agreement itself, its clauses, zones, violations,
patrols, route statuses, control changes and assessments (with an actor: the actors too, since the actor's parts
come from `Actor.part_of`), in one query. Any edit, addition or deletion there changes the tag; the request's path
(period, actor, step), format and role are in it as well (`compliance.api.conditional.etag_for`). The answers do not
depend on today's date, only on the record, so nothing else can make a cached answer stale.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Count, IntegerField, Max, Subquery, Value
from django.shortcuts import get_object_or_404
from django.utils.http import http_date
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from agreements.models import Actor, Agreement, Clause, ControlChange, Patrol, RouteStatus, Violation, Zone
from agreements.services import permissions
from compliance.api.conditional import ConditionalGetMixin, etag_for, not_modified
from compliance.api.filters import actor_q
from compliance.dates import DAY_SCHEMA, day_out_of_range
from reports.api.compliance_schema import ComplianceSerializer, ComplianceTimelineSerializer
from reports.engine import MAX_STEPS, STEPS, assess_agreement, compliance_timeline
from reports.engine.periods import split_period
from reports.models import Assessment

# --- conditional GETs over the whole record of an agreement ------------------------------------------------------


def _state_of(queryset) -> tuple[Subquery, Subquery]:
    """(latest updated_at, row count) of a queryset, as scalar subqueries (grouped on a constant: one row)."""
    grouped = queryset.order_by().annotate(_all=Value(1, output_field=IntegerField())).values("_all")
    return (
        Subquery(grouped.annotate(latest=Max("updated_at")).values("latest")),
        Subquery(grouped.annotate(rows=Count("pk")).values("rows")),
    )


def record_state(agreement: Agreement, *, actor: Actor | None = None) -> tuple[str, object]:
    """A string that changes whenever anything the engine reads for `agreement` changes, and the latest change."""
    sources = {
        "agreement": Agreement.objects.filter(pk=agreement.pk),
        "clauses": Clause.objects.filter(agreement=agreement),
        "zones": Zone.objects.filter(agreement=agreement),
        "violations": Violation.objects.filter(agreement=agreement),
        "patrols": Patrol.objects.filter(agreement=agreement),
        "route_statuses": RouteStatus.objects.filter(agreement=agreement),
        "control_changes": ControlChange.objects.filter(agreement=agreement),
        "assessments": Assessment.objects.filter(clause__agreement=agreement),
    }
    if actor is not None:
        sources["actors"] = Actor.objects.all()
    annotations = {}
    for name, queryset in sources.items():
        annotations[f"{name}_latest"], annotations[f"{name}_rows"] = _state_of(queryset)
    row = Agreement.objects.filter(pk=agreement.pk).annotate(**annotations).values(*annotations).get()
    latest = max((row[f"{name}_latest"] for name in sources if row[f"{name}_latest"]), default=None)
    state = "|".join(
        f"{row[f'{name}_latest'].isoformat() if row[f'{name}_latest'] else '-'}/{row[f'{name}_rows']}"
        for name in sources
    )
    return state, latest


class RecordConditionalMixin(ConditionalGetMixin):
    """`conditional` for answers computed from many tables: the state comes from `record_state`, not one queryset."""

    def conditional_on_record(self, request, state: str, latest, build):
        etag = etag_for(request, state)
        response = Response(status=status.HTTP_304_NOT_MODIFIED) if not_modified(request, etag, latest) else build()
        response["ETag"] = etag
        if latest:
            response["Last-Modified"] = http_date(latest.timestamp())
        response["Cache-Control"] = "private, no-cache"
        return response


# --- query parameters ---------------------------------------------------------------------------------------------


def parse_day(params, name: str) -> date:
    value = params.get(name)
    if not value:
        raise ValidationError({name: f"Give {name} as a date, YYYY-MM-DD (both days are included)."})
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationError({name: f"{value!r} is not a date; use YYYY-MM-DD."}) from None
    problem = day_out_of_range(day)
    if problem:
        raise ValidationError({name: problem})
    return day


def parse_period(params) -> tuple[date, date]:
    errors = {}
    days = {}
    for name in ("from", "to"):
        try:
            days[name] = parse_day(params, name)
        except ValidationError as exc:
            errors.update(exc.detail)
    if errors:
        raise ValidationError(errors)
    if days["to"] < days["from"]:
        raise ValidationError({"to": f"The period ends ({days['to']}) before it starts ({days['from']})."})
    return days["from"], days["to"]


def parse_actor(params) -> Actor | None:
    value = (params.get("actor") or "").strip()
    if not value:
        return None
    actor = Actor.objects.filter(actor_q(value)).first()
    if actor is None:
        raise ValidationError({"actor": f"No actor with id or slug {value!r}."})
    return actor


PERIOD_PARAMETERS = [
    OpenApiParameter("from", DAY_SCHEMA, required=True, description="First day of the period (YYYY-MM-DD), included."),
    OpenApiParameter("to", DAY_SCHEMA, required=True, description="Last day of the period (YYYY-MM-DD), included."),
    OpenApiParameter(
        "actor",
        str,
        required=False,
        description="Actor id or slug: its scorecard (only the clauses it is obligated by; only what it or its "
        "parts did).",
    ),
]


class ComplianceView(RecordConditionalMixin, APIView):
    """Each clause's status, score, deadline state and evidence over a period, and the implementation percentage."""

    required_permissions = [permissions.VIEW_CLAUSE]

    @extend_schema(operation_id="agreement_compliance", parameters=PERIOD_PARAMETERS, responses=ComplianceSerializer)
    def get(self, request, slug):
        agreement = get_object_or_404(Agreement, slug=slug)
        start, end = parse_period(request.query_params)
        actor = parse_actor(request.query_params)
        state, latest = record_state(agreement, actor=actor)
        return self.conditional_on_record(
            request,
            state,
            latest,
            lambda: Response(assess_agreement(agreement, start=start, end=end, actor=actor).as_dict()),
        )


class ComplianceTimelineView(RecordConditionalMixin, APIView):
    """Status and score of every clause per week, month or quarter of the period (cut to it), for dashboards."""

    required_permissions = [permissions.VIEW_CLAUSE]

    @extend_schema(
        operation_id="agreement_compliance_timeline",
        parameters=[
            *PERIOD_PARAMETERS,
            OpenApiParameter(
                "step",
                str,
                enum=list(STEPS),
                default="month",
                description=f"Calendar weeks (Monday–Sunday), months or quarters; at most {MAX_STEPS} steps.",
            ),
        ],
        responses=ComplianceTimelineSerializer,
    )
    def get(self, request, slug):
        agreement = get_object_or_404(Agreement, slug=slug)
        start, end = parse_period(request.query_params)
        actor = parse_actor(request.query_params)
        step = request.query_params.get("step") or "month"
        if step not in STEPS:
            raise ValidationError({"step": f"step is one of: {', '.join(STEPS)}."})
        try:
            split_period(start, end, step)  # refuse too many steps before anything is computed
        except ValueError as exc:
            raise ValidationError({"step": str(exc)}) from exc
        state, latest = record_state(agreement, actor=actor)

        def build():
            return Response(
                {
                    "agreement": {"slug": agreement.slug, "title": agreement.title},
                    "period": {"from": start.isoformat(), "to": end.isoformat()},
                    "actor": None if actor is None else {"slug": actor.slug, "name": actor.name},
                    "step": step,
                    "steps": compliance_timeline(agreement, start=start, end=end, step=step, actor=actor),
                }
            )

        return self.conditional_on_record(request, state, latest, build)
