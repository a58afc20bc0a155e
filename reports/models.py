"""What we conclude from the record: assessments of clauses and issued reports.

`reports` reads `agreements`, never the reverse.
"""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from agreements.models.base import Retirable, retirement_constraint


class ComplianceStatus(models.TextChoices):
    COMPLIANT = "compliant", "Compliant"
    PARTIALLY_COMPLIANT = "partially_compliant", "Partially compliant"
    NON_COMPLIANT = "non_compliant", "Non-compliant"
    NOT_YET_DUE = "not_yet_due", "Not yet due"
    NOT_ASSESSED = "not_assessed", "Not assessed"


class ImplementationScore(models.IntegerChoices):
    # The Peace Accords Matrix scale.
    NOT_BEGUN = 0, "0 — not begun"
    MINIMAL = 1, "1 — minimal"
    INTERMEDIATE = 2, "2 — intermediate"
    COMPLETE = 3, "3 — complete"


class Assessment(Retirable, models.Model):
    """A person's judgement of a clause over a period, overriding the computed one (which is kept beside it)."""

    Status = ComplianceStatus
    Score = ImplementationScore

    clause = models.ForeignKey("agreements.Clause", on_delete=models.PROTECT, related_name="assessments")
    actor = models.ForeignKey(
        "agreements.Actor",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assessments",
        help_text="Empty: the clause as a whole; else the assessment of one obligated actor.",
    )
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=24, choices=ComplianceStatus.choices)
    score = models.PositiveSmallIntegerField(choices=ImplementationScore.choices, null=True, blank=True)
    computed_status = models.CharField(max_length=24, choices=ComplianceStatus.choices, blank=True, editable=False)
    computed_score = models.PositiveSmallIntegerField(
        choices=ImplementationScore.choices, null=True, blank=True, editable=False
    )
    computed_rule = models.TextField(blank=True, editable=False)
    evidence = models.JSONField(default=dict, blank=True, editable=False)
    rationale = models.TextField(help_text="Why the person's judgement differs from (or confirms) the computed one.")
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assessments", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["clause", "-period_end", "-id"]
        constraints = [
            retirement_constraint("reports_assessment"),
            models.CheckConstraint(
                condition=models.Q(status__in=ComplianceStatus.values),
                name="reports_assessment_status_valid",
                violation_error_message="Unknown compliance status.",
            ),
            models.CheckConstraint(
                condition=models.Q(computed_status__in=[*ComplianceStatus.values, ""]),
                name="reports_assessment_computed_status_valid",
                violation_error_message="Unknown computed compliance status.",
            ),
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__gte=0, score__lte=3),
                name="reports_assessment_score_range",
                violation_error_message="Scores run from 0 to 3.",
            ),
            models.CheckConstraint(
                condition=models.Q(computed_score__isnull=True)
                | models.Q(computed_score__gte=0, computed_score__lte=3),
                name="reports_assessment_computed_score_range",
                violation_error_message="Scores run from 0 to 3.",
            ),
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")),
                name="reports_assessment_period_ordered",
                violation_error_message="The period ends before it starts.",
            ),
            models.CheckConstraint(
                condition=~models.Q(rationale=""),
                name="reports_assessment_has_rationale",
                violation_error_message="Say why: an assessment needs a rationale.",
            ),
            # Two partial constraints instead of one with NULLS NOT DISTINCT, which SQLite lacks.
            models.UniqueConstraint(
                fields=["clause", "period_start", "period_end"],
                condition=models.Q(actor__isnull=True),
                name="reports_assessment_unique_period",
                violation_error_message="This clause already has an assessment for this period: edit it.",
            ),
            models.UniqueConstraint(
                fields=["clause", "actor", "period_start", "period_end"],
                condition=models.Q(actor__isnull=False),
                name="reports_assessment_unique_actor_period",
                violation_error_message="This clause already has an assessment for this actor and period: edit it.",
            ),
        ]
        indexes = [models.Index(fields=["clause", "period_start", "period_end"], name="reports_assessment_period")]

    def __str__(self):
        who = f" ({self.actor})" if self.actor_id else ""
        return f"Clause {self.clause.number}{who} {self.period_start}–{self.period_end}: {self.get_status_display()}"


class Report(Retirable, models.Model):
    """An issued compliance report: the data it was built from, frozen, and the hash that proves it unchanged."""

    agreement = models.ForeignKey("agreements.Agreement", on_delete=models.PROTECT, related_name="reports")
    actor = models.ForeignKey(
        "agreements.Actor", null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    title = models.CharField(max_length=300)
    parameters = models.JSONField(default=dict, blank=True)
    frozen_data = models.JSONField(help_text="Everything the report shows, as it was when issued.")
    sha256 = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the canonical JSON of frozen_data.")
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reports")
    issued_at = models.DateTimeField(db_index=True)
    annex = models.FileField(
        upload_to="reports/annex/",
        max_length=300,
        blank=True,
        editable=False,
        help_text="Every violation the report counts (CSV), frozen with it; its SHA-256 is in frozen_data.",
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            retirement_constraint("reports_report"),
            models.CheckConstraint(
                condition=models.Q(period_end__gte=models.F("period_start")),
                name="reports_report_period_ordered",
                violation_error_message="The period ends before it starts.",
            ),
            models.CheckConstraint(
                condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"),
                name="reports_report_sha256_format",
                violation_error_message="A SHA-256 is 64 lowercase hexadecimal characters.",
            ),
        ]

    def __str__(self):
        return self.title
