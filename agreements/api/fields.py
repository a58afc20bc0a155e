from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from rest_framework import serializers


class BriefRelatedField(serializers.RelatedField):
    """Reads as a brief embedded object (so a dashboard needs no second call); writes take an id or a slug."""

    default_error_messages = {
        "does_not_exist": "No {model} with {lookup} {value!r}.",
        "invalid": "Give an id (integer) or a slug (string).",
    }

    def __init__(self, *, model, brief: list[str], slug_field: str | None = "slug", **kwargs):
        self.model = model
        self.brief = brief
        self.slug_field = slug_field
        if not kwargs.get("read_only"):
            kwargs.setdefault("queryset", model.objects.all())
        super().__init__(**kwargs)

    def to_representation(self, value):
        return {name: getattr(value, name) for name in self.brief}

    def to_internal_value(self, data):
        queryset = self.get_queryset()
        model = queryset.model._meta.verbose_name
        if isinstance(data, bool) or not isinstance(data, int | str) or data == "":
            self.fail("invalid")
        # str.isdigit() also takes "²" and "١", which int() refuses; a digit string longer than a bigint is no id.
        if isinstance(data, int) or (isinstance(data, str) and data.isascii() and data.isdigit() and len(data) <= 19):
            key, lookup = "id", {"pk": int(data)}
        elif self.slug_field:
            key, lookup = self.slug_field, {self.slug_field: data}
        else:
            self.fail("invalid")
        try:
            return queryset.get(**lookup)
        except queryset.model.DoesNotExist:
            self.fail("does_not_exist", model=model, lookup=key, value=data)

    def get_choices(self, cutoff=None):
        return {}  # never list every actor in the browsable API's form


class BriefRelatedFieldExtension(OpenApiSerializerFieldExtension):
    target_class = BriefRelatedField

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        if direction == "request":
            if field.slug_field:
                return {
                    "oneOf": [build_basic_type(OpenApiTypes.INT), build_basic_type(OpenApiTypes.STR)],
                    "description": f"id or {field.slug_field}",
                }
            return build_basic_type(OpenApiTypes.INT)
        properties = {}
        for name in field.brief:
            model_field = field.model._meta.get_field(name)
            is_int = model_field is not None and model_field.get_internal_type() in {"BigAutoField", "AutoField"}
            properties[name] = build_basic_type(OpenApiTypes.INT if is_int else OpenApiTypes.STR)
        return {"type": "object", "properties": properties, "required": list(field.brief)}
