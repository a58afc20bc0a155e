from django.db import models
from simple_history.models import HistoricalRecords

from agreements.models.base import TimeStamped, choices_constraint


class ActorKind(models.TextChoices):
    STATE = "state", "State"
    STATE_FORCE = "state_force", "State armed force"
    UNIT = "unit", "Military unit"
    NON_STATE_ARMED_GROUP = "non_state_armed_group", "Non-state armed group"
    COALITION = "coalition", "Coalition of armed groups"
    MILITIA = "militia", "Militia"
    INTERNATIONAL_BODY = "international_body", "International body"
    CIVILIANS = "civilians", "Civilians"
    UNKNOWN = "unknown", "Unknown"


class Actor(TimeStamped):
    """Anyone who can be party to an agreement, bound by a clause, or alleged to have breached one."""

    Kind = ActorKind

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    short_name = models.CharField(max_length=50, blank=True, help_text="Abbreviation used in tables, e.g. HTS.")
    kind = models.CharField(max_length=32, choices=ActorKind.choices)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 code, where it has one.")
    part_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="components",
        help_text="The larger actor this one belongs to (a unit of an army, an army of a state).",
    )
    backed_by = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="backs", help_text="Actors that support this one."
    )
    description = models.TextField(blank=True)

    history = HistoricalRecords(m2m_fields=[backed_by])

    class Meta:
        ordering = ["name"]
        constraints = [
            choices_constraint("kind", ActorKind.choices, "agreements_actor_kind_valid"),
            models.CheckConstraint(
                condition=~models.Q(part_of=models.F("id")),
                name="agreements_actor_not_part_of_itself",
                violation_error_message="An actor cannot be part of itself.",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def label(self) -> str:
        return self.short_name or self.name


class ActorAlias(models.Model):
    """Another spelling or language of an actor's name; imports match on these as well as on the name."""

    actor = models.ForeignKey(Actor, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=200)
    language = models.CharField(max_length=8, blank=True, help_text="BCP 47 tag, e.g. ar, tr, ru.")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "actor aliases"
        constraints = [
            models.UniqueConstraint(
                fields=["actor", "name"],
                name="agreements_actoralias_unique_per_actor",
                violation_error_message="This actor already has that alias.",
            )
        ]
        indexes = [models.Index(fields=["name"], name="agreements_actoralias_name")]

    def __str__(self):
        return self.name
