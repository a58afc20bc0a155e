from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from agreements.geometry import validate_area_geojson
from agreements.models.base import Retirable, TimeStamped, choices_constraint, retirement_constraint

LATITUDE_VALIDATORS = [MinValueValidator(-90), MaxValueValidator(90)]
LONGITUDE_VALIDATORS = [MinValueValidator(-180), MaxValueValidator(180)]


def coordinate_constraints(prefix: str, *, required: bool) -> list[models.CheckConstraint]:
    """Latitude within ±90, longitude within ±180; both given or (where optional) both missing."""
    q = models.Q
    constraints = [
        models.CheckConstraint(
            condition=q(latitude__gte=-90, latitude__lte=90) | q(latitude__isnull=True),
            name=f"{prefix}_latitude_range",
            violation_error_message="Latitude must be between -90 and 90.",
        ),
        models.CheckConstraint(
            condition=q(longitude__gte=-180, longitude__lte=180) | q(longitude__isnull=True),
            name=f"{prefix}_longitude_range",
            violation_error_message="Longitude must be between -180 and 180.",
        ),
    ]
    if not required:
        constraints.append(
            models.CheckConstraint(
                condition=q(latitude__isnull=True, longitude__isnull=True)
                | q(latitude__isnull=False, longitude__isnull=False),
                name=f"{prefix}_coordinates_paired",
                violation_error_message="Give both latitude and longitude, or neither.",
            )
        )
    return constraints


class ZoneKind(models.TextChoices):
    DEMILITARISED_ZONE = "demilitarised_zone", "Demilitarised zone"
    BUFFER_ZONE = "buffer_zone", "Buffer zone"
    SECURITY_CORRIDOR = "security_corridor", "Security corridor"
    DE_ESCALATION_AREA = "de_escalation_area", "De-escalation area"
    OTHER = "other", "Other area"


class ZonePrecision(models.TextChoices):
    SURVEYED = "surveyed", "Surveyed (published, precise lines)"
    APPROXIMATE = "approximate", "Approximate (drawn from descriptions, ±5 km)"
    SCHEMATIC = "schematic", "Schematic (illustrative only)"


class Zone(Retirable, TimeStamped):
    """A named area an agreement sets up (demilitarised zone, de-escalation area, corridor), with its geometry.

    Whether an incident lies inside a zone is computed from this geometry, never typed by hand. Only zones of a
    restricting kind (`RESTRICTING_KINDS`) set a violation's in-zone flag; the others give context.
    """

    Kind = ZoneKind

    RESTRICTING_KINDS = (ZoneKind.DEMILITARISED_ZONE, ZoneKind.BUFFER_ZONE, ZoneKind.SECURITY_CORRIDOR)

    Precision = ZonePrecision

    agreement = models.ForeignKey("agreements.Agreement", on_delete=models.PROTECT, related_name="zones")
    clause = models.ForeignKey(
        "agreements.Clause",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="zones",
        help_text="The clause that sets the zone up.",
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100)
    kind = models.CharField(max_length=32, choices=ZoneKind.choices)
    geometry = models.JSONField(
        validators=[validate_area_geojson],
        help_text="GeoJSON Polygon or MultiPolygon, positions as [longitude, latitude].",
    )
    depth_km_min = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    depth_km_max = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    precision = models.CharField(max_length=16, choices=ZonePrecision.choices, default=ZonePrecision.APPROXIMATE)
    description = models.TextField(blank=True)

    version = models.PositiveIntegerField(
        default=1,
        editable=False,
        help_text="Goes up with every saved change; edits based on an older version are refused.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["agreement", "name"]
        constraints = [
            retirement_constraint("agreements_zone"),
            choices_constraint("kind", ZoneKind.choices, "agreements_zone_kind_valid"),
            choices_constraint("precision", ZonePrecision.choices, "agreements_zone_precision_valid"),
            models.UniqueConstraint(
                fields=["agreement", "slug"],
                name="agreements_zone_unique_slug",
                violation_error_message="This agreement already has a zone with this slug.",
            ),
            models.CheckConstraint(
                condition=models.Q(depth_km_min__isnull=True) | models.Q(depth_km_min__gte=0),
                name="agreements_zone_depth_min_non_negative",
                violation_error_message="Depth cannot be negative.",
            ),
            models.CheckConstraint(
                condition=models.Q(depth_km_min__isnull=True)
                | models.Q(depth_km_max__isnull=True)
                | models.Q(depth_km_min__lte=models.F("depth_km_max")),
                name="agreements_zone_depth_ordered",
                violation_error_message="Smallest depth must not exceed largest depth.",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # A bad polygon would silently break every in-zone check, so refuse it on any save path, not only forms.
        validate_area_geojson(self.geometry)
        super().save(*args, **kwargs)

    @property
    def restricts(self) -> bool:
        return self.kind in self.RESTRICTING_KINDS


class PlaceKind(models.TextChoices):
    SETTLEMENT = "settlement", "Settlement"
    SITE = "site", "Site (post, crossing, facility)"
    ADMIN1 = "admin1", "Governorate / first-level area"
    ADMIN2 = "admin2", "District / second-level area"
    ADMIN3 = "admin3", "Sub-district / third-level area"


class Place(TimeStamped):
    """A named location with its administrative areas (OCHA p-codes where known) and coordinates."""

    Kind = PlaceKind

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=PlaceKind.choices, default=PlaceKind.SETTLEMENT)
    country = models.CharField(max_length=2, default="SY", help_text="ISO 3166-1 alpha-2 code.")
    admin1 = models.CharField("governorate (admin 1)", max_length=100, blank=True)
    admin2 = models.CharField("district (admin 2)", max_length=100, blank=True)
    admin3 = models.CharField("sub-district (admin 3)", max_length=100, blank=True)
    pcode = models.CharField("p-code", max_length=20, blank=True, help_text="OCHA p-code of the place, if known.")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, validators=LATITUDE_VALIDATORS)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, validators=LONGITUDE_VALIDATORS)
    notes = models.TextField(blank=True)

    version = models.PositiveIntegerField(
        default=1,
        editable=False,
        help_text="Goes up with every saved change; edits based on an older version are refused.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "admin1"]
        constraints = [
            choices_constraint("kind", PlaceKind.choices, "agreements_place_kind_valid"),
            *coordinate_constraints("agreements_place", required=True),
            models.UniqueConstraint(
                fields=["name", "admin1", "admin2"],
                name="agreements_place_unique_name_in_area",
                violation_error_message="A place with this name already exists in this governorate and district.",
            ),
            models.UniqueConstraint(
                fields=["pcode"],
                condition=~models.Q(pcode=""),
                name="agreements_place_unique_pcode",
                violation_error_message="Another place already has this p-code.",
            ),
        ]
        indexes = [models.Index(fields=["admin1", "admin2"], name="agreements_place_admin")]

    def __str__(self):
        area = self.admin1 if self.admin1 and self.admin1 != self.name else ""
        return f"{self.name} ({area})" if area else self.name


class PlaceAlias(models.Model):
    """Another spelling of a place's name (transliterations differ: Kafr Nabudah, Kafr Nabouda, Kfarnbouda)."""

    place = models.ForeignKey(Place, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=200)
    language = models.CharField(max_length=8, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "place aliases"
        constraints = [
            models.UniqueConstraint(
                fields=["place", "name"],
                name="agreements_placealias_unique_per_place",
                violation_error_message="This place already has that alias.",
            )
        ]
        indexes = [models.Index(fields=["name"], name="agreements_placealias_name")]

    def __str__(self):
        return self.name
