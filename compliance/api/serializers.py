"""What every writable serializer of the API shares: a body names only fields the client may write, and an update
that changes nothing writes nothing."""

from collections.abc import Mapping

from django.db import models
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from compliance.dates import DAY_SCHEMA, day_out_of_range

UNKNOWN_FIELD = "Unknown field; the schema lists the fields this endpoint takes."
READ_ONLY_FIELD = "Read-only field; leave it out of the body."


class StrictFieldsMixin:
    """Refuses a body naming a field the serializer does not take, or one it only sends (400, naming each field).

    DRF ignores both silently, so a typo (`perpetrator` for `perpetrators`) or a field the client thinks it set
    (`status`, or `parties` before they were writable) would answer 201/200 with the data lost.
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            for name in data:
                field = self.fields.get(name)
                if field is None:
                    errors[name] = [UNKNOWN_FIELD]
                elif field.read_only:
                    errors[name] = [READ_ONLY_FIELD]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class StrictFieldsExtension(OpenApiSerializerExtension):
    """The schema says what StrictFieldsMixin does: a request body names only the fields listed."""

    target_class = StrictFieldsMixin
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


@extend_schema_field(DAY_SCHEMA)
class DayField(serializers.DateField):
    """A day within the range the service accepts (compliance.dates), which the schema states."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        problem = day_out_of_range(day)
        if problem:
            raise serializers.ValidationError(problem)
        return day


def _pk(value):
    return value.pk if isinstance(value, models.Model) else value


def changed_fields(instance: models.Model, values: Mapping) -> list[str]:
    """The names in `values` (validated data: model field names, related rows as instances) whose value differs
    from what `instance` holds. Many-to-many values are compared as sets of rows."""
    changed = []
    for name, value in values.items():
        field = instance._meta.get_field(name)
        if field.many_to_many:
            stored = {row.pk for row in getattr(instance, name).all()} if instance.pk else set()
            if stored != {_pk(row) for row in value}:
                changed.append(name)
        elif field.is_relation:
            if getattr(instance, field.attname) != _pk(value):
                changed.append(name)
        elif getattr(instance, name) != value:
            changed.append(name)
    return changed
