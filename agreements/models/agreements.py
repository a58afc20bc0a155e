from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from agreements.models.actors import Actor
from agreements.models.base import Retirable, TimeStamped, choices_constraint, retirement_constraint
from agreements.terms import actor_slugs_in_terms, validate_terms


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_FORCE = "in_force", "In force"
    SUSPENDED = "suspended", "Suspended"
    EXPIRED = "expired", "Expired"
    SUPERSEDED = "superseded", "Superseded"


class AgreementRelation(models.TextChoices):
    AMENDS = "amends", "Amends"
    SUPERSEDES = "supersedes", "Supersedes"
    IMPLEMENTS = "implements", "Implements"


class Agreement(TimeStamped):
    """A signed agreement (memorandum, protocol, ceasefire) whose implementation we monitor."""

    Status = AgreementStatus

    Relation = AgreementRelation

    slug = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=300)
    short_title = models.CharField(max_length=100, blank=True)
    signed_on = models.DateField(null=True, blank=True)
    signed_at = models.CharField("signed at (place)", max_length=200, blank=True)
    in_force_from = models.DateField(null=True, blank=True)
    in_force_until = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=AgreementStatus.choices, default=AgreementStatus.IN_FORCE)
    summary = models.TextField(blank=True)
    text = models.TextField("source text", blank=True)
    source_url = models.URLField(max_length=500, blank=True)
    amends = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="amended_by",
        help_text="The earlier agreement this one amends, supersedes or implements.",
    )
    relation = models.CharField(max_length=16, choices=AgreementRelation.choices, blank=True)
    parties = models.ManyToManyField("agreements.Actor", through="AgreementParty", related_name="agreements")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-signed_on", "slug"]
        constraints = [
            choices_constraint("status", AgreementStatus.choices, "agreements_agreement_status_valid"),
            choices_constraint(
                "relation", AgreementRelation.choices, "agreements_agreement_relation_valid", blank=True
            ),
            models.CheckConstraint(
                condition=models.Q(in_force_until__isnull=True)
                | models.Q(in_force_from__isnull=True)
                | models.Q(in_force_until__gte=models.F("in_force_from")),
                name="agreements_agreement_in_force_ordered",
                violation_error_message="In force until must not be before in force from.",
            ),
            models.CheckConstraint(
                condition=(models.Q(amends__isnull=True) & models.Q(relation=""))
                | (models.Q(amends__isnull=False) & ~models.Q(relation="")),
                name="agreements_agreement_relation_with_amends",
                violation_error_message="Say how it relates (amends, supersedes, implements) exactly when an "
                "earlier agreement is given.",
            ),
            models.CheckConstraint(
                condition=~models.Q(amends=models.F("id")),
                name="agreements_agreement_not_amending_itself",
                violation_error_message="An agreement cannot amend itself.",
            ),
        ]

    def __str__(self):
        return self.short_title or self.title


class AgreementPartyRole(models.TextChoices):
    SIGNATORY = "signatory", "Signatory"
    GUARANTOR = "guarantor", "Guarantor"
    BOUND_PARTY = "bound_party", "Bound party"
    OBSERVER = "observer", "Observer"
    MEDIATOR = "mediator", "Mediator"


class AgreementParty(models.Model):
    """An actor's role in an agreement: signatory, guarantor, bound party or observer."""

    Role = AgreementPartyRole

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="party_roles")
    actor = models.ForeignKey("agreements.Actor", on_delete=models.PROTECT, related_name="party_roles")
    role = models.CharField(max_length=16, choices=AgreementPartyRole.choices)

    class Meta:
        ordering = ["agreement", "role", "actor__name"]
        verbose_name_plural = "agreement parties"
        constraints = [
            choices_constraint("role", AgreementPartyRole.choices, "agreements_agreementparty_role_valid"),
            models.UniqueConstraint(
                fields=["agreement", "actor", "role"],
                name="agreements_agreementparty_unique_role",
                violation_error_message="This actor already has this role in this agreement.",
            ),
        ]

    def __str__(self):
        return f"{self.actor} ({self.get_role_display()})"


class ClauseKind(models.TextChoices):
    STATUS_QUO = "status_quo", "Status quo"
    CEASEFIRE = "ceasefire", "Ceasefire"
    DEMILITARISED_ZONE = "demilitarised_zone", "Demilitarised zone"
    WEAPONS_WITHDRAWAL = "weapons_withdrawal", "Weapons withdrawal"
    GROUP_WITHDRAWAL = "group_withdrawal", "Group withdrawal"
    PATROLS = "patrols", "Patrols"
    COORDINATION_CENTRE = "coordination_centre", "Coordination centre"
    ROUTE_OPENING = "route_opening", "Route opening"
    OTHER = "other", "Other"


class Clause(Retirable, TimeStamped):
    """A provision of an agreement: what someone must do or not do, by when, in typed terms."""

    Kind = ClauseKind

    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="clauses")
    number = models.CharField(max_length=20, help_text="As the agreement numbers it, e.g. 5 or 2(a).")
    position = models.PositiveSmallIntegerField(default=0, help_text="Sort order within the agreement.")
    title = models.CharField(max_length=200)
    text = models.TextField(blank=True)
    kind = models.CharField(max_length=32, choices=ClauseKind.choices)
    deadline = models.DateField(null=True, blank=True, help_text="Last day on which the clause can be met.")
    obligated_actors = models.ManyToManyField("agreements.Actor", blank=True, related_name="obligations")
    terms = models.JSONField(default=dict, blank=True, help_text="Typed terms for the clause's kind (see README).")

    version = models.PositiveIntegerField(
        default=1,
        editable=False,
        help_text="Goes up with every saved change; edits based on an older version are refused.",
    )

    history = HistoricalRecords(m2m_fields=[obligated_actors])

    class Meta:
        ordering = ["agreement", "position", "number"]
        constraints = [
            retirement_constraint("agreements_clause"),
            choices_constraint("kind", ClauseKind.choices, "agreements_clause_kind_valid"),
            models.UniqueConstraint(
                fields=["agreement", "number"],
                name="agreements_clause_unique_number",
                violation_error_message="This agreement already has a clause with this number.",
            ),
        ]
        indexes = [models.Index(fields=["agreement", "position", "number"], name="agreements_clause_order")]

    def __str__(self):
        return f"{self.number}. {self.title}"

    def clean(self):
        super().clean()
        validate_terms(self.kind, self.terms)
        self._check_actor_slugs()

    def _check_actor_slugs(self):
        named = actor_slugs_in_terms(self.kind, self.terms)
        wanted = {slug for slugs in named.values() for slug in slugs}
        known = set(Actor.objects.filter(slug__in=wanted).values_list("slug", flat=True))
        errors = [
            f"terms.{key}: no actor with slug {slug!r}."
            for key, slugs in named.items()
            for slug in slugs
            if slug not in known
        ]
        if errors:
            raise ValidationError({"terms": errors})
