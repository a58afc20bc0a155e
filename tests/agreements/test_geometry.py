"""A zone's geometry is a valid GeoJSON area, checked by full_clean() and by every save (Zone.save validates too)."""

import pytest
from django.core.exceptions import ValidationError

from agreements.models import Zone
from tests.factories import SQUARE, AgreementFactory

pytestmark = pytest.mark.django_db


def ring(*positions):
    return [list(p) for p in positions]


SQUARE_RING = SQUARE["coordinates"][0]
EAST_SQUARE_RING = ring((38, 35), (39, 35), (39, 36), (38, 36), (38, 35))

BAD_GEOMETRIES = [
    pytest.param({"type": "Point", "coordinates": [36.5, 35.5]}, "type must be Polygon or MultiPolygon", id="point"),
    pytest.param(
        {"type": "LineString", "coordinates": [[36, 35], [37, 36]]},
        "type must be Polygon or MultiPolygon, got 'LineString'",
        id="line",
    ),
    pytest.param(
        # The ring crosses itself at (36.5, 35.5): two triangles meeting at a point.
        {"type": "Polygon", "coordinates": [ring((36, 35), (37, 36), (37, 35), (36, 36), (36, 35))]},
        "not a valid area: Self-intersection",
        id="bow-tie",
    ),
    pytest.param(
        {"type": "Polygon", "coordinates": [ring((36, 35), (37, 35), (37, 100), (36, 100), (36, 35))]},
        "out of range",
        id="latitude-100",
    ),
    pytest.param(
        {"type": "Polygon", "coordinates": [ring((36, 35), (190, 35), (190, 36), (36, 36), (36, 35))]},
        "out of range",
        id="longitude-190",
    ),
    pytest.param(
        # Positions written [lat, lon] by mistake over an area at 35 N 170 E: latitude 170 is impossible.
        {"type": "Polygon", "coordinates": [ring((35, 170), (36, 170), (36, 171), (35, 171), (35, 170))]},
        "[longitude, latitude]",
        id="swapped-lat-lon",
    ),
    pytest.param([SQUARE_RING], "must be a GeoJSON object", id="list"),
    pytest.param("POLYGON((36 35, 37 35, 37 36, 36 36, 36 35))", "must be a GeoJSON object", id="wkt-string"),
    pytest.param({"type": "Polygon", "coordinates": []}, "Geometry is empty", id="empty-coordinates"),
    pytest.param({"type": "MultiPolygon", "coordinates": []}, "Geometry is empty", id="empty-multipolygon"),
    pytest.param(
        {"type": "Polygon", "coordinates": [ring((36, 35), (37, 35))]}, "coordinates are malformed", id="two-points"
    ),
    pytest.param(
        {"type": "Polygon", "coordinates": [ring(("a", "b"), (37, 35), (37, 36), ("a", "b"))]},
        "coordinates are malformed",
        id="not-numbers",
    ),
    pytest.param({"type": "Polygon"}, "coordinates are malformed", id="no-coordinates"),
]

UNCLOSED = {"type": "Polygon", "coordinates": [SQUARE_RING[:-1]]}  # last position is not the first again


@pytest.fixture
def agreement(db):
    return AgreementFactory()


def zone(agreement, geometry, **over) -> Zone:
    return Zone(
        agreement=agreement,
        name=over.pop("name", "Demilitarised zone"),
        slug=over.pop("slug", "dmz"),
        kind=Zone.Kind.DEMILITARISED_ZONE,
        geometry=geometry,
        **over,
    )


def test_a_valid_polygon_saves(agreement):
    z = zone(agreement, dict(SQUARE))
    z.full_clean()
    z.save()
    assert Zone.objects.get(pk=z.pk).geometry == SQUARE


def test_a_polygon_with_a_hole_saves(agreement):
    hole = ring((36.4, 35.4), (36.6, 35.4), (36.6, 35.6), (36.4, 35.6), (36.4, 35.4))
    z = zone(agreement, {"type": "Polygon", "coordinates": [SQUARE_RING, hole]})
    z.full_clean()
    z.save()
    assert Zone.objects.filter(pk=z.pk).exists()


def test_a_multipolygon_is_accepted(agreement):
    geometry = {"type": "MultiPolygon", "coordinates": [[SQUARE_RING], [EAST_SQUARE_RING]]}
    z = zone(agreement, geometry)
    z.full_clean()
    z.save()
    assert Zone.objects.get(pk=z.pk).geometry["type"] == "MultiPolygon"


@pytest.mark.parametrize(("geometry", "says"), BAD_GEOMETRIES)
def test_full_clean_refuses_a_bad_geometry_saying_what_is_wrong(agreement, geometry, says):
    with pytest.raises(ValidationError) as exc:
        zone(agreement, geometry).full_clean()
    messages = exc.value.message_dict["geometry"]
    assert any(says in m for m in messages), messages


@pytest.mark.parametrize(("geometry", "says"), BAD_GEOMETRIES)
def test_save_refuses_a_bad_geometry_without_full_clean(agreement, geometry, says):
    with pytest.raises(ValidationError) as exc:
        zone(agreement, geometry).save()
    assert any(says in m for m in exc.value.messages), exc.value.messages
    assert not Zone.objects.exists()


@pytest.mark.parametrize(("geometry", "says"), BAD_GEOMETRIES[:3])
def test_objects_create_refuses_a_bad_geometry(agreement, geometry, says):
    with pytest.raises(ValidationError, match="Geometry"):
        Zone.objects.create(
            agreement=agreement, name="Zone", slug="zone", kind=Zone.Kind.BUFFER_ZONE, geometry=geometry
        )
    assert not Zone.objects.exists()


def test_save_refuses_breaking_the_geometry_of_a_stored_zone(agreement):
    z = zone(agreement, dict(SQUARE))
    z.save()
    z.geometry = {"type": "Point", "coordinates": [36.5, 35.5]}
    with pytest.raises(ValidationError):
        z.save()
    assert Zone.objects.get(pk=z.pk).geometry == SQUARE


@pytest.mark.parametrize("path", ["full_clean", "save"])
def test_an_unclosed_ring_is_refused(agreement, path):
    z = zone(agreement, UNCLOSED)
    with pytest.raises(ValidationError) as exc:
        getattr(z, path)()
    assert any("closed" in m for m in exc.value.messages), exc.value.messages
