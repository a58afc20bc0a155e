"""GeoJSON geometry checks and point-in-zone tests (shapely), kept apart from the models that store them."""

from __future__ import annotations

import json
from functools import lru_cache

from django.core.exceptions import ValidationError
from shapely.geometry import Point, shape
from shapely.prepared import prep
from shapely.validation import explain_validity

AREA_TYPES = ("Polygon", "MultiPolygon")


def validate_area_geojson(value) -> None:
    """A zone's geometry: a GeoJSON Polygon or MultiPolygon, [lon, lat] within range, closed and not self-crossing."""
    if not isinstance(value, dict):
        raise ValidationError('Geometry must be a GeoJSON object, e.g. {"type": "Polygon", "coordinates": …}.')
    kind = value.get("type")
    if kind not in AREA_TYPES:
        raise ValidationError(f"Geometry type must be Polygon or MultiPolygon, got {kind!r}.")
    rings_error = _check_rings(value)
    if rings_error:
        raise ValidationError(rings_error)
    try:
        geom = shape(value)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise ValidationError(f"Geometry coordinates are malformed: {str(exc).rstrip('.')}.") from exc
    if geom.is_empty:
        raise ValidationError("Geometry is empty.")
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    if min_lon < -180 or max_lon > 180 or min_lat < -90 or max_lat > 90:
        raise ValidationError(
            "Geometry coordinates are out of range: GeoJSON positions are [longitude, latitude], "
            "longitude within ±180 and latitude within ±90."
        )
    if not geom.is_valid:
        raise ValidationError(f"Geometry is not a valid area: {explain_validity(geom)}.")


def _check_rings(value: dict) -> str | None:
    """GeoJSON rings must be closed with at least four positions; shapely would silently close an open one."""
    if "coordinates" not in value:
        return "Geometry coordinates are malformed: it has no 'coordinates' member."
    polygons = value["coordinates"]
    if value["type"] == "Polygon":
        polygons = [polygons]
    if not isinstance(polygons, list) or not polygons or polygons == [[]]:
        return "Geometry is empty: it has no rings."
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            return "Geometry is empty: a polygon has no rings."
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4:
                return (
                    "Geometry coordinates are malformed: a ring needs at least four positions, "
                    "the last repeating the first."
                )
            if ring[0] != ring[-1]:
                return f"Geometry ring is not closed: its last position {ring[-1]} must repeat its first {ring[0]}."
    return None


@lru_cache(maxsize=256)
def _prepared(geojson_key: str):
    return prep(shape(json.loads(geojson_key)))


def area_covers(geojson: dict, lon: float, lat: float) -> bool:
    """True when the point lies inside the area or on its boundary (a point on the line counts as in)."""
    key = json.dumps(geojson, sort_keys=True)
    return _prepared(key).covers(Point(float(lon), float(lat)))


def area_size(geojson: dict) -> float:
    """Planar area in square degrees: enough to tell the smaller of two overlapping zones."""
    return shape(geojson).area
