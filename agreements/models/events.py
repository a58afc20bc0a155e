from django.db import models
from simple_history.models import HistoricalRecords

from agreements.models.base import Retirable, TimeStamped, choices_constraint, retirement_constraint


class DatePrecision(models.TextChoices):
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


class PatrolKind(models.TextChoices):
    JOINT = "joint", "Joint"
    COORDINATED = "coordinated", "Coordinated (separate, agreed routes)"
    INDEPENDENT = "independent", "Independent"


class PatrolOutcome(models.TextChoices):
    COMPLETED = "completed", "Completed"
    CUT_SHORT = "cut_short", "Cut short"
    CANCELLED = "cancelled", "Cancelled"
    ATTACKED = "attacked", "Attacked"


class Patrol(Retirable, TimeStamped):
    """A patrol the agreement provides for, and how it went."""

    Kind = PatrolKind

    Outcome = PatrolOutcome

    agreement = models.ForeignKey("agreements.Agreement", on_delete=models.PROTECT, related_name="patrols")
    clause = models.ForeignKey(
        "agreements.Clause", null=True, blank=True, on_delete=models.PROTECT, related_name="patrols"
    )
    patrolled_on = models.DateField(db_index=True)
    date_precision = models.CharField(max_length=8, choices=DatePrecision.choices, default=DatePrecision.DAY)
    kind = models.CharField(max_length=16, choices=PatrolKind.choices)
    participants = models.ManyToManyField("agreements.Actor", related_name="patrols")
    route = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=16, choices=PatrolOutcome.choices)
    incidents = models.ManyToManyField("agreements.Violation", blank=True, related_name="patrols")
    source = models.ForeignKey(
        "agreements.Source", null=True, blank=True, on_delete=models.PROTECT, related_name="patrols"
    )
    notes = models.TextField(blank=True)

    history = HistoricalRecords(m2m_fields=[participants, incidents])

    class Meta:
        ordering = ["-patrolled_on", "-id"]
        constraints = [
            retirement_constraint("agreements_patrol"),
            choices_constraint("kind", PatrolKind.choices, "agreements_patrol_kind_valid"),
            choices_constraint("outcome", PatrolOutcome.choices, "agreements_patrol_outcome_valid"),
            choices_constraint("date_precision", DatePrecision.choices, "agreements_patrol_date_precision_valid"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} patrol {self.patrolled_on} — {self.get_outcome_display()}"


class RouteStatusStatus(models.TextChoices):
    OPEN = "open", "Open"
    PARTLY_OPEN = "partly_open", "Partly open"
    CLOSED = "closed", "Closed"


class RouteStatus(Retirable, TimeStamped):
    """Whether a route an agreement names (M4, M5 …) was open on a given day."""

    Status = RouteStatusStatus

    agreement = models.ForeignKey("agreements.Agreement", on_delete=models.PROTECT, related_name="route_statuses")
    clause = models.ForeignKey(
        "agreements.Clause", null=True, blank=True, on_delete=models.PROTECT, related_name="route_statuses"
    )
    route = models.CharField(max_length=50, help_text="As the clause names it, e.g. M4.")
    segment = models.CharField(max_length=200, blank=True, help_text="Empty means the whole route.")
    observed_on = models.DateField(db_index=True)
    status = models.CharField(max_length=16, choices=RouteStatusStatus.choices)
    source = models.ForeignKey(
        "agreements.Source", null=True, blank=True, on_delete=models.PROTECT, related_name="route_statuses"
    )
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-observed_on", "route", "segment"]
        verbose_name_plural = "route statuses"
        constraints = [
            retirement_constraint("agreements_routestatus"),
            choices_constraint("status", RouteStatusStatus.choices, "agreements_routestatus_status_valid"),
            models.UniqueConstraint(
                fields=["agreement", "route", "segment", "observed_on"],
                name="agreements_routestatus_unique_observation",
                violation_error_message="This route segment already has a status for this day.",
            ),
        ]

    def __str__(self):
        segment = f" ({self.segment})" if self.segment else ""
        return f"{self.route}{segment} {self.get_status_display().lower()} on {self.observed_on}"


class ControlChange(Retirable, TimeStamped):
    """Territory changing hands: the record a status-quo clause is judged on."""

    agreement = models.ForeignKey("agreements.Agreement", on_delete=models.PROTECT, related_name="control_changes")
    place = models.ForeignKey(
        "agreements.Place",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="control_changes",
        help_text="Empty when the sources give a number of locations without naming them.",
    )
    locations = models.PositiveIntegerField(
        default=1, help_text="How many locations this record covers (sources often report 'N villages')."
    )
    area_description = models.CharField(max_length=300, blank=True)
    occurred_on = models.DateField(db_index=True)
    date_precision = models.CharField(max_length=8, choices=DatePrecision.choices, default=DatePrecision.DAY)
    from_actor = models.ForeignKey(
        "agreements.Actor",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="control_lost",
        help_text="Empty when the sources do not say who held it.",
    )
    to_actor = models.ForeignKey("agreements.Actor", on_delete=models.PROTECT, related_name="control_gained")
    violation = models.ForeignKey(
        "agreements.Violation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="control_changes",
        help_text="The incident in which control changed, if recorded.",
    )
    source = models.ForeignKey(
        "agreements.Source", null=True, blank=True, on_delete=models.PROTECT, related_name="control_changes"
    )
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-occurred_on", "-id"]
        constraints = [
            retirement_constraint("agreements_controlchange"),
            choices_constraint("date_precision", DatePrecision.choices, "agreements_controlchange_precision_valid"),
            models.CheckConstraint(
                condition=~models.Q(from_actor=models.F("to_actor")),
                name="agreements_controlchange_actors_differ",
                violation_error_message="Control passes from one actor to another, not to itself.",
            ),
            models.CheckConstraint(
                condition=models.Q(locations__gte=1),
                name="agreements_controlchange_locations_positive",
                violation_error_message="A control change covers at least one location.",
            ),
            models.CheckConstraint(
                condition=models.Q(place__isnull=False) | ~models.Q(area_description=""),
                name="agreements_controlchange_has_where",
                violation_error_message="Name the place, or describe the area when the places are not named.",
            ),
        ]

    def __str__(self):
        where = self.place.name if self.place_id else self.area_description
        return f"{where} → {self.to_actor} on {self.occurred_on}"
