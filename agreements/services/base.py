"""What every write of the record shares: validation with field-level messages, attribution in the history, links."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable

from django.core.exceptions import NON_FIELD_ERRORS, FieldError, PermissionDenied, ValidationError
from django.db import connection, models, router, transaction
from django.db.models import ExpressionWrapper, Q, Value
from django.db.models.functions import Coalesce
from django.db.models.sql import Query
from django.db.models.sql.constants import SINGLE
from django.utils import timezone


@contextlib.contextmanager
def atomic():
    """`transaction.atomic` for services: the outermost service call takes a savepoint, calls nested in it share it.

    An error in a nested call undoes the whole outer call, which is what every caller wants, and a save stops paying
    a SAVEPOINT and a RELEASE per helper it goes through. The one place that catches an error and goes on
    (`source_get_or_create`, racing another insert) takes a savepoint of its own with `transaction.atomic()`.
    Usable as `with atomic():` and as the decorator `@atomic()`.
    """
    depth = getattr(connection, "service_depth", 0)
    with transaction.atomic(savepoint=depth == 0):
        connection.service_depth = depth + 1
        try:
            yield
        finally:
            connection.service_depth = depth


def attribute(instance: models.Model, user) -> None:
    # simple-history reads this when the change does not come through a request (commands, tests, the API's
    # token users are on the request too, but being explicit costs nothing).
    if user is not None:
        instance._history_user = user


def set_m2m(instance: models.Model, m2m: dict[str, Iterable] | None) -> None:
    for name, values in (m2m or {}).items():
        if values is not None:
            getattr(instance, name).set(list(values))


def _condition_fields(condition) -> Iterable[str]:
    for child in condition.children:
        if isinstance(child, models.Q):
            yield from _condition_fields(child)
        else:
            yield child[0].split("__")[0]


@functools.cache
def _constraint_field(model: type[models.Model]) -> dict[str, str]:
    """A check constraint's message → the first field its condition names."""
    return {
        str(constraint.violation_error_message): next(iter(_condition_fields(constraint.condition)))
        for constraint in model._meta.constraints
        if isinstance(constraint, models.CheckConstraint)
    }


def _check_constraints(instance: models.Model, exclude: set[str]) -> None:
    """Every check constraint of the model in ONE query (Django asks one query and one savepoint per constraint:
    about 120 statements for a violation). NULL counts as passing, as in the database."""
    model = type(instance)
    checks = [
        c
        for c in model._meta.constraints
        if isinstance(c, models.CheckConstraint) and not c._expression_refs_exclude(model, c.condition, exclude)
    ]
    if not checks:
        return
    using = router.db_for_write(model, instance=instance)
    query = Query(None)
    for name, value in instance._get_field_expression_map(meta=model._meta, exclude=exclude).items():
        query.add_annotation(value if hasattr(value, "resolve_expression") else Value(value), name, select=False)
    for number, check in enumerate(checks):
        passed = ExpressionWrapper(Q(check.condition), output_field=models.BooleanField())
        query.add_annotation(Coalesce(passed, Value(True), output_field=models.BooleanField()), f"check_{number}")
    try:
        row = query.get_compiler(using=using).execute_sql(SINGLE)
    except FieldError:
        # A condition the batch cannot express: ask each constraint as Django would.
        for check in checks:
            check.validate(model, instance, exclude=exclude, using=using)
        return
    failed = [check for check, passed in zip(checks, row, strict=True) if not passed]
    if failed:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    ValidationError(check.get_violation_error_message(), code=check.violation_error_code)
                    for check in failed
                ]
            }
        )


def _known_by_the_database(instance: models.Model) -> set[str]:
    """Fields whose check would only ask the database what it already told us, one query each.

    - a foreign key given as a loaded object: it was read from the database (and nothing referenced is deleted;
      the foreign key constraint still holds at commit);
    - a unique field we generate ourselves (a new row's public uuid4), which no client sets.
    """
    known = set()
    for field in instance._meta.concrete_fields:
        if field.is_relation and field.many_to_one and field.is_cached(instance):
            related = field.get_cached_value(instance)
            if related is not None and related.pk is not None and not related._state.adding:
                known.add(field.name)
        elif field.unique and not field.editable and callable(field.default) and instance._state.adding:
            known.add(field.name)
    return known


def _full_clean(instance: models.Model) -> None:
    """`full_clean()`, with the check constraints asked in one query; unique constraints as Django asks them."""
    errors: dict = {}
    try:
        instance.full_clean(exclude=_known_by_the_database(instance), validate_constraints=False)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    exclude = {name for name in errors if name != NON_FIELD_ERRORS}
    using = router.db_for_write(type(instance), instance=instance)
    for constraint in type(instance)._meta.constraints:
        if isinstance(constraint, models.CheckConstraint):
            continue
        try:
            constraint.validate(type(instance), instance, exclude=exclude, using=using)
        except ValidationError as exc:
            if getattr(exc, "code", None) == "unique" and len(getattr(constraint, "fields", ())) == 1:
                errors.setdefault(constraint.fields[0], []).append(exc)
            else:
                errors = exc.update_error_dict(errors)
    try:
        _check_constraints(instance, exclude)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def validate(instance: models.Model) -> None:
    """`full_clean`, with each check-constraint error moved onto the field it is about.

    Django reports a failed check constraint against the whole record; an API client or form needs to know which
    input to fix (`killed_low`, not "the record").
    """
    try:
        _full_clean(instance)
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        owners = _constraint_field(type(instance))
        errors: dict[str, list] = {}
        for field, field_errors in exc.error_dict.items():
            for error in field_errors:
                message = " ".join(error.messages)
                target = owners.get(message, field) if field == NON_FIELD_ERRORS else field
                errors.setdefault(target, []).append(error)
        raise ValidationError(errors) from None


@atomic()
def model_save(*, instance: models.Model, user, m2m: dict[str, Iterable] | None = None) -> models.Model:
    """Validate and save a record that has no rule beyond its constraints (actors, agreements, patrols …)."""
    _check_not_retired(instance)
    _check_clause_agreement(instance)
    validate(instance)
    attribute(instance, user)
    instance.save()
    set_m2m(instance, m2m)
    return instance


class Refused(PermissionDenied):
    """A rule of `permissions` said no; the message says why. (The faces show it: 403 in the API, a message on
    the admin page that asked.)"""


def refuse(refusal: str | None) -> None:
    """Raise the refusal a rule in `permissions` gave, if any."""
    if refusal:
        raise Refused(refusal)


def check_version(*, instance: models.Model, expected_version: int | None) -> models.Model:
    """Lock the stored row of a versioned record and refuse (code "stale") a save based on an older version."""
    current = type(instance)._base_manager.select_for_update().get(pk=instance.pk)
    if expected_version is not None and current.version != expected_version:
        raise ValidationError(
            f"This {instance._meta.verbose_name} was changed by someone else (now version {current.version}, you "
            f"loaded version {expected_version}). Reload it and apply your edit again.",
            code="stale",
        )
    return current


def _check_clause_agreement(instance: models.Model) -> None:
    """A patrol, zone or route status names a clause of its own agreement (the database cannot compare them)."""
    clause_id, agreement_id = getattr(instance, "clause_id", None), getattr(instance, "agreement_id", None)
    if clause_id is None or agreement_id is None:
        return
    clause_agreement = instance.clause.agreement_id
    if clause_agreement != agreement_id:
        raise ValidationError({"clause": "This clause belongs to another agreement."})


def _check_not_retired(instance: models.Model) -> None:
    if instance.pk is None or not hasattr(instance, "retired_at"):
        return
    if type(instance)._base_manager.filter(pk=instance.pk, retired_at__isnull=False).exists():
        raise ValidationError(f"This {instance._meta.verbose_name} is retired; a retired record is kept as it was.")


@atomic()
def model_retire(*, instance: models.Model, user, reason: str) -> models.Model:
    """Take evidence or reference out of what stands, with who, when and why; the row stays, readable to staff.

    Nothing evidence-bearing is deleted. Readers of `Model.objects` no longer see it; `Model.all_objects` does.
    """
    from agreements.services import permissions  # permissions reads models only; imported here to keep base bare

    refuse(permissions.model_refusal(user=user, model=type(instance), action="change"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why it is retired."}, code="required")
    current = type(instance)._base_manager.select_for_update().get(pk=instance.pk)
    if current.retired_at is not None:
        raise ValidationError(f"This {instance._meta.verbose_name} is already retired.", code="retired")
    for name, value in {"retired_at": timezone.now(), "retired_by": user, "retirement_reason": reason}.items():
        setattr(current, name, value)
        setattr(instance, name, value)
    fields = ["retired_at", "retired_by", "retirement_reason"]
    if hasattr(current, "version"):
        current.version += 1
        instance.version = current.version
        fields.append("version")
    if hasattr(current, "updated_at"):
        fields.append("updated_at")
    attribute(current, user)
    current._change_reason = f"retired: {reason}"[:100]
    current.save(update_fields=fields)
    return instance
