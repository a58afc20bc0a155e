from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
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
            # An id is a positive bigint; the JSON parser refuses longer integers before anything looks them up.
            row_id = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
            if field.slug_field:
                return {
                    "oneOf": [row_id, build_basic_type(OpenApiTypes.STR)],
                    "description": f"id or {field.slug_field}",
                }
            return row_id
        properties = {}
        for name in field.brief:
            model_field = field.model._meta.get_field(name)
            is_int = model_field is not None and model_field.get_internal_type() in {"BigAutoField", "AutoField"}
            properties[name] = build_basic_type(OpenApiTypes.INT if is_int else OpenApiTypes.STR)
        return {"type": "object", "properties": properties, "required": list(field.brief)}


_POSITION = {
    "type": "array",
    "items": {"type": "number", "minimum": -180, "maximum": 180},
    "minItems": 2,
    "maxItems": 2,
    "description": "[longitude, latitude]",
}
_POLYGON = {
    "type": "array",
    "items": {"type": "array", "items": _POSITION, "minItems": 4, "description": "A closed ring: last = first."},
    "minItems": 1,
}
# What agreements.geometry.validate_area_geojson takes, as far as a schema can say it: closed rings, latitudes within
# ±90 and areas that do not cross themselves are checked there.
AREA_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "required": ["type", "coordinates"],
            "properties": {"type": {"type": "string", "pattern": "^Polygon$"}, "coordinates": _POLYGON},
        },
        {
            "type": "object",
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"type": "string", "pattern": "^MultiPolygon$"},
                "coordinates": {"type": "array", "items": _POLYGON, "minItems": 1},
            },
        },
    ]
}


@extend_schema_field(AREA_SCHEMA)
class AreaField(serializers.JSONField):
    """A zone's GeoJSON Polygon or MultiPolygon (validated by the model, agreements.geometry)."""


@extend_schema_field({"type": "object"})
class TermsField(serializers.JSONField):
    """A clause's terms: a JSON object whose keys depend on the clause's kind (agreements.terms)."""
