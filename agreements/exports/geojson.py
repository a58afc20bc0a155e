"""GeoJSON: one Point feature per violation, JSON types, nothing escaped; streamed feature by feature."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from django.db.models import QuerySet

from agreements.exports.columns import Column
from agreements.exports.csv_files import in_chunks
from agreements.exports.rows import violation_rows
from agreements.exports.values import json_value
from agreements.models import Violation


def _features(queryset: QuerySet[Violation], columns: Sequence[Column]) -> Iterator[dict]:
    for violation in violation_rows(queryset):
        point = violation.point()
        if point is None:
            continue
        yield {
            "type": "Feature",
            "id": str(violation.uuid),
            "geometry": {"type": "Point", "coordinates": [point[0], point[1]]},
            "properties": {column.name: json_value(column.value(violation)) for column in columns},
        }


def geojson_feature_collection(queryset: QuerySet[Violation], columns: Sequence[Column]) -> dict:
    """A GeoJSON FeatureCollection: one Point ([lon, lat]) per violation, the columns as properties.

    Values keep their JSON types (numbers, booleans, null; dates as ISO strings) and are not formula-escaped.
    A violation without a point (none should exist: the database requires a place or coordinates) is left out.
    """
    return {"type": "FeatureCollection", "features": list(_features(queryset, columns))}


def iter_geojson(queryset: QuerySet[Violation], columns: Sequence[Column]) -> Iterator[bytes]:
    """The same FeatureCollection as `geojson_feature_collection`, as UTF-8 chunks for a StreamingHttpResponse.

    Features are encoded as their rows are read (in chunks of CHUNK_SIZE), so memory does not grow with the rows.
    Compact and not ASCII-escaped, as the API's JSON renderer writes it.
    """
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode

    def parts() -> Iterator[str]:
        yield '{"type":"FeatureCollection","features":['
        separator = ""
        for feature in _features(queryset, columns):
            yield separator + encode(feature)
            separator = ","
        yield "]}"

    return in_chunks(parts())
