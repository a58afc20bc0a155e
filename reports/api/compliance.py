"""Compliance over HTTP: thin faces over `reports.engine` and `reports.assessments`.

    GET /api/v1/agreements/{slug}/compliance?from=&to=[&actor=]            assess_agreement(...).as_dict()
    GET /api/v1/agreements/{slug}/compliance/timeline?from=&to=&step=[&actor=]   compliance_timeline(...)

People's assessments (/api/v1/assessments/) are in `reports.api.assessments`; the documented shape of the answers
in `reports.api.compliance_schema`.

Conditional GETs: the answers depend on the record only (not on today's date), so their ETag comes from the
record's change counter (`compliance.freshness`) with the request's path (period, actor, step), format and role.
"""

from __future__ import annotations

from datetime import date

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from agreements.models import Actor, Agreement
from agreements.services import permissions
from compliance.api.conditional import conditional
from compliance.api.filters import actor_q
from compliance.dates import DAY_SCHEMA, day_out_of_range
from reports.api.compliance_schema import ComplianceSerializer, ComplianceTimelineSerializer
from reports.engine import MAX_STEPS, STEPS, assess_agreement, compliance_timeline
from reports.engine.periods import split_period

# --- conditional GETs over the whole record of an agreement ------------------------------------------------------


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


class ComplianceView(APIView):
    """Each clause's status, score, deadline state and evidence over a period, and the implementation percentage."""

    required_permissions = [permissions.VIEW_CLAUSE]

    @extend_schema(operation_id="agreement_compliance", parameters=PERIOD_PARAMETERS, responses=ComplianceSerializer)
    def get(self, request, slug):
        agreement = get_object_or_404(Agreement, slug=slug)
        start, end = parse_period(request.query_params)
        actor = parse_actor(request.query_params)
        return conditional(
            request,
            lambda: Response(assess_agreement(agreement, start=start, end=end, actor=actor).as_dict()),
        )


class ComplianceTimelineView(APIView):
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

        return conditional(request, build)
