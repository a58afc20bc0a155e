"""Casualty and damage figures: their fields, their constraints, and the one rule by which a total is read."""

from django.core.validators import MinValueValidator
from django.db import models

# Casualty figures come as low / best / high estimates (as UCDP gives them); civilians are counted apart and are a
# subset of the totals. `None` means "not reported", which is not the same as zero.
CASUALTY_KINDS = ("killed", "injured", "civilians_killed", "civilians_injured")
ESTIMATES = ("low", "best", "high")
CASUALTY_FIELDS = tuple(f"{kind}_{estimate}" for kind in CASUALTY_KINDS for estimate in ESTIMATES)
COUNT_FIELDS = (
    *CASUALTY_FIELDS,
    "displaced",
    "health_facilities_hit",
    "education_facilities_hit",
    "idp_sites_hit",
    "camps_hit",
)


def _count_field(verbose_name: str) -> models.IntegerField:
    return models.IntegerField(verbose_name, null=True, blank=True, validators=[MinValueValidator(0)])


def _count_constraints() -> list[models.CheckConstraint]:
    q, f = models.Q, models.F
    constraints = [
        models.CheckConstraint(
            condition=q(**{f"{field}__gte": 0}) | q(**{f"{field}__isnull": True}),
            name=f"agreements_violation_{field}_non_negative",
            violation_error_message=f"{field.replace('_', ' ')} cannot be negative.",
        )
        for field in COUNT_FIELDS
    ]
    for kind in CASUALTY_KINDS:
        for lower, upper in (("low", "best"), ("best", "high"), ("low", "high")):
            a, b = f"{kind}_{lower}", f"{kind}_{upper}"
            constraints.append(
                models.CheckConstraint(
                    condition=q(**{f"{a}__lte": f(b)}) | q(**{f"{a}__isnull": True}) | q(**{f"{b}__isnull": True}),
                    name=f"agreements_violation_{kind}_{lower}_le_{upper}",
                    violation_error_message=f"{kind.replace('_', ' ')}: the {lower} estimate cannot exceed the "
                    f"{upper} estimate.",
                )
            )
    for kind in ("killed", "injured"):
        for estimate in ESTIMATES:
            part, whole = f"civilians_{kind}_{estimate}", f"{kind}_{estimate}"
            constraints.append(
                models.CheckConstraint(
                    condition=q(**{f"{part}__lte": f(whole)})
                    | q(**{f"{part}__isnull": True})
                    | q(**{f"{whole}__isnull": True}),
                    name=f"agreements_violation_civilians_{kind}_{estimate}_within_total",
                    violation_error_message=f"Civilians {kind} ({estimate}) cannot exceed all {kind} ({estimate}).",
                )
            )
    return constraints


def casualty_total_expression(kind: str, estimate: str) -> models.Func:
    """The total (`killed` / `injured`) at one estimate as the database computes it; see `casualty_total`."""
    return models.functions.Coalesce(models.F(f"{kind}_{estimate}"), models.F(f"civilians_{kind}_{estimate}"))


def casualty_total(violation, kind: str, estimate: str) -> int | None:
    """A total never reads lower than the civilians counted in it.

    Civilians are a subset of the total (a check constraint holds it when both are given), so when the total is
    not reported but civilian figures are, the civilian figure is the total's lower bound and stands in for it;
    reports say so in their notes. Every figure shown, summed or exported (ACLED `fatalities` too) goes through
    this rule or `casualty_total_expression`, its SQL twin.
    """
    total = getattr(violation, f"{kind}_{estimate}")
    return total if total is not None else getattr(violation, f"civilians_{kind}_{estimate}")


def casualty_total_is_civilian_bound(violation, kind: str, estimate: str) -> bool:
    """True when `casualty_total` had to read the civilian figure (the total itself was not reported)."""
    return (
        getattr(violation, f"{kind}_{estimate}") is None
        and getattr(violation, f"civilians_{kind}_{estimate}") is not None
    )
