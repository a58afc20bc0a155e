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
