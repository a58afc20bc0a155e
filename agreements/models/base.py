from django.conf import settings
from django.db import models


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True


def choices_constraint(field: str, choices, name: str, *, blank: bool = False) -> models.CheckConstraint:
    """The database refuses a value outside a field's choices, as the form would."""
    allowed = [value for value, _ in choices]
    if blank:
        allowed.append("")
    return models.CheckConstraint(
        condition=models.Q(**{f"{field}__in": allowed}),
        name=name,
        violation_error_message=f"{field} must be one of: {', '.join(v for v in allowed if v)}.",
    )


class RetiredQuerySet(models.QuerySet):
    def active(self):
        return self.filter(retired_at__isnull=True)

    def retired(self):
        return self.filter(retired_at__isnull=False)


class ActiveManager(models.Manager.from_queryset(RetiredQuerySet)):
    """Only what stands: retired rows are out of what the record's readers (engine, reports, in-zone) see."""

    def get_queryset(self):
        return super().get_queryset().active()


AllManager = models.Manager.from_queryset(RetiredQuerySet)


class Retirable(models.Model):
    """Evidence and reference that are never deleted: retired with who, when and why, and kept readable to staff.

    `objects` holds what stands; `all_objects` (the default manager, so Django's own checks such as uniqueness and
    the admin see every row) holds the retired ones too.
    """

    retired_at = models.DateTimeField(null=True, blank=True, editable=False)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    retirement_reason = models.TextField(blank=True, editable=False)

    all_objects = AllManager()
    objects = ActiveManager()

    class Meta:
        abstract = True
        default_manager_name = "all_objects"

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None


def retirement_constraint(prefix: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=models.Q(retired_at__isnull=True, retired_by__isnull=True, retirement_reason="")
        | (models.Q(retired_at__isnull=False, retired_by__isnull=False) & ~models.Q(retirement_reason="")),
        name=f"{prefix}_retirement_complete",
        violation_error_message="A retirement records who, when and why.",
    )
