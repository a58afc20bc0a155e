import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from simple_history.models import HistoricalRecords

from agreements.models.base import Retirable, TimeStamped, choices_constraint, retirement_constraint
from agreements.models.casualties import (  # noqa: F401 — the rule's names, also read from here
    CASUALTY_FIELDS,
    CASUALTY_KINDS,
    COUNT_FIELDS,
    ESTIMATES,
    _count_constraints,
    _count_field,
    casualty_total,
    casualty_total_expression,
    casualty_total_is_civilian_bound,
)
from agreements.models.geography import LATITUDE_VALIDATORS, LONGITUDE_VALIDATORS, coordinate_constraints


class LinkedHistory(HistoricalRecords):
    """History that the services can write once per save, links included (see `services.violations`): by default
    simple-history writes a row for the save and one more for each kind of link set after it."""

    def contribute_to_class(self, cls, name):
        super().contribute_to_class(cls, name)
        cls.history_records = self


class ViolationQuerySet(models.QuerySet):
    """Which violations count, said once.

    - `standing()`: not retracted (a merged duplicate is retracted too). What lists show by default.
    - `counted()`: standing and not rejected — what reports, statistics and the compliance engine count
      (verified, unverified and disputed; each report says which status each is).
    """

    def standing(self):
        return self.filter(retracted_at__isnull=True)

    def counted(self):
        return self.standing().exclude(status=ViolationStatus.REJECTED)


class ViolationCategory(models.TextChoices):
    AIRSTRIKE = "airstrike", "Airstrike"
    SHELLING = "shelling", "Shelling / artillery"
    BARREL_BOMB = "barrel_bomb", "Barrel bomb"
    GROUND_ASSAULT = "ground_assault", "Ground assault"
    TERRITORIAL_CAPTURE = "territorial_capture", "Territorial capture"
    PATROL_ATTACK = "patrol_attack", "Attack on or obstruction of a patrol"
    HEAVY_WEAPONS_IN_ZONE = "heavy_weapons_in_zone", "Heavy weapons in zone"
    ARMED_GROUP_IN_ZONE = "armed_group_in_zone", "Armed group in zone"
    ROUTE_CLOSURE = "route_closure", "Route closure"
    OTHER = "other", "Other"


class ViolationStatus(models.TextChoices):
    REPORTED = "reported", "Reported"
    VERIFIED = "verified", "Verified"
    DISPUTED = "disputed", "Disputed"
    REJECTED = "rejected", "Rejected"


class ViolationTimePrecision(models.TextChoices):
    EXACT = "exact", "Exact time"
    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


class ViolationLocationPrecision(models.TextChoices):
    # The ladder follows ACLED's geo-precision codes, with "exact" split off for a site's own coordinates.
    EXACT = "exact", "Exact site"
    TOWN = "town", "Town or village"
    DISTRICT = "district", "District / nearby area"
    REGION = "region", "Governorate / region"


class Violation(TimeStamped):
    """An incident alleged to breach one or more clauses of an agreement.

    Written only through `agreements.services` (which compute the in-zone flag, bump the version and record
    who did what); never deleted, only retracted with a reason.
    """

    Category = ViolationCategory

    Status = ViolationStatus

    TimePrecision = ViolationTimePrecision

    LocationPrecision = ViolationLocationPrecision

    # Coarser than this, a point cannot say whether the incident was inside a 15 km band.
    ZONE_DECIDABLE_PRECISIONS = (ViolationLocationPrecision.EXACT, ViolationLocationPrecision.TOWN)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name="public id")
    agreement = models.ForeignKey("agreements.Agreement", on_delete=models.PROTECT, related_name="violations")
    clauses = models.ManyToManyField("agreements.Clause", blank=True, related_name="violations")
    category = models.CharField(max_length=32, choices=ViolationCategory.choices)
    perpetrators = models.ManyToManyField(
        "agreements.Actor",
        blank=True,
        related_name="violations_perpetrated",
        help_text="Alleged perpetrators; choose the 'Unknown' actor rather than leaving it empty when unknown.",
    )
    affected_actors = models.ManyToManyField("agreements.Actor", blank=True, related_name="violations_suffered")
    description = models.TextField()

    started_at = models.DateTimeField(db_index=True, help_text="Start of the incident, in UTC.")
    ended_at = models.DateTimeField(null=True, blank=True)
    time_precision = models.CharField(
        max_length=8, choices=ViolationTimePrecision.choices, default=ViolationTimePrecision.DAY
    )

    place = models.ForeignKey(
        "agreements.Place", null=True, blank=True, on_delete=models.PROTECT, related_name="violations"
    )
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=LATITUDE_VALIDATORS,
        help_text="Leave empty to use the place's coordinates.",
    )
    longitude = models.DecimalField(
        max_digits=9, decimal_places=6, null=True, blank=True, validators=LONGITUDE_VALIDATORS
    )
    location_precision = models.CharField(
        max_length=8, choices=ViolationLocationPrecision.choices, default=ViolationLocationPrecision.TOWN
    )
    in_zone = models.BooleanField(
        null=True,
        editable=False,
        help_text="Computed: inside a restricting zone of the agreement; empty when the location is too coarse.",
    )
    zone = models.ForeignKey(
        "agreements.Zone", null=True, blank=True, editable=False, on_delete=models.PROTECT, related_name="violations"
    )

    killed_low = _count_field("killed (low)")
    killed_best = _count_field("killed (best)")
    killed_high = _count_field("killed (high)")
    injured_low = _count_field("injured (low)")
    injured_best = _count_field("injured (best)")
    injured_high = _count_field("injured (high)")
    civilians_killed_low = _count_field("civilians killed (low)")
    civilians_killed_best = _count_field("civilians killed (best)")
    civilians_killed_high = _count_field("civilians killed (high)")
    civilians_injured_low = _count_field("civilians injured (low)")
    civilians_injured_best = _count_field("civilians injured (best)")
    civilians_injured_high = _count_field("civilians injured (high)")
    displaced = _count_field("people displaced")
    health_facilities_hit = _count_field("health facilities hit")
    education_facilities_hit = _count_field("education facilities hit")
    idp_sites_hit = _count_field("IDP sites hit")
    camps_hit = _count_field("camps hit")

    sources = models.ManyToManyField("agreements.Source", through="ViolationSource", related_name="violations")

    status = models.CharField(
        max_length=16,
        choices=ViolationStatus.choices,
        default=ViolationStatus.REPORTED,
        editable=False,
        help_text="Changed only by the review workflow.",
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="violations_reported", editable=False
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    retracted_at = models.DateTimeField(null=True, blank=True, editable=False)
    retracted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    retraction_reason = models.TextField(blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="merged_duplicates",
        help_text="Set when this record was merged into another as a duplicate (it is then retracted).",
    )

    history = LinkedHistory(m2m_fields=[clauses, perpetrators, affected_actors])

    objects = ViolationQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [
            ("review_violation", "Can verify, dispute or reject violations"),
            ("retract_violation", "Can retract violations"),
        ]
        constraints = [
            choices_constraint("category", ViolationCategory.choices, "agreements_violation_category_valid"),
            choices_constraint("status", ViolationStatus.choices, "agreements_violation_status_valid"),
            choices_constraint(
                "time_precision", ViolationTimePrecision.choices, "agreements_violation_time_precision_valid"
            ),
            choices_constraint(
                "location_precision",
                ViolationLocationPrecision.choices,
                "agreements_violation_location_precision_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gte=models.F("started_at")),
                name="agreements_violation_end_after_start",
                violation_error_message="The end cannot be before the start.",
            ),
            *coordinate_constraints("agreements_violation", required=False),
            models.CheckConstraint(
                condition=models.Q(place__isnull=False) | models.Q(latitude__isnull=False),
                name="agreements_violation_has_location",
                violation_error_message="Give a place, coordinates, or both.",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="verified") | models.Q(verified_by__isnull=False, verified_at__isnull=False),
                name="agreements_violation_verified_has_verifier",
                violation_error_message="A verified violation records who verified it and when.",
            ),
            models.CheckConstraint(
                condition=models.Q(retracted_at__isnull=True, retracted_by__isnull=True, retraction_reason="")
                | (models.Q(retracted_at__isnull=False, retracted_by__isnull=False) & ~models.Q(retraction_reason="")),
                name="agreements_violation_retraction_complete",
                violation_error_message="A retraction records who, when and why.",
            ),
            models.CheckConstraint(
                condition=models.Q(merged_into__isnull=True) | models.Q(retracted_at__isnull=False),
                name="agreements_violation_merged_is_retracted",
                violation_error_message="A violation merged into another is retracted.",
            ),
            models.CheckConstraint(
                condition=~models.Q(merged_into=models.F("id")),
                name="agreements_violation_not_merged_into_itself",
                violation_error_message="A violation cannot be merged into itself.",
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1),
                name="agreements_violation_version_positive",
                violation_error_message="Version starts at 1.",
            ),
            *_count_constraints(),
        ]
        indexes = [
            models.Index(fields=["agreement", "-started_at"], name="agreements_violation_agr_start"),
            models.Index(fields=["status", "-started_at"], name="agreements_violation_status"),
            # The list's order, over what stands (the default list), and per category (a dashboard's usual filter).
            models.Index(
                fields=["-started_at", "-id"],
                name="agreements_violation_standing",
                condition=models.Q(retracted_at__isnull=True),
            ),
            models.Index(fields=["category", "-started_at"], name="agreements_violation_category"),
            models.Index(fields=["in_zone"], name="agreements_violation_in_zone"),
            models.Index(fields=["updated_at", "id"], name="agreements_violation_sync"),
        ]

    def __str__(self):
        where = self.place.name if self.place_id else f"{self.latitude}, {self.longitude}"
        return f"{self.get_category_display()} — {where} — {self.started_at:%Y-%m-%d}"

    @property
    def is_retracted(self) -> bool:
        return self.retracted_at is not None

    def point(self) -> tuple[float, float] | None:
        """(lon, lat) of the incident: its own coordinates, else its place's."""
        if self.latitude is not None and self.longitude is not None:
            return float(self.longitude), float(self.latitude)
        if self.place_id:
            return float(self.place.longitude), float(self.place.latitude)
        return None


class SourceKind(models.TextChoices):
    MONITOR_REPORT = "monitor_report", "Own monitor's report"
    OFFICIAL_STATEMENT = "official_statement", "Official statement"
    UN_REPORT = "un_report", "UN / international body report"
    NGO_REPORT = "ngo_report", "NGO report"
    NEWS_REPORT = "news_report", "News report"
    OPINION = "opinion", "Opinion / analysis"
    SOCIAL_MEDIA = "social_media", "Social media"
    IMAGERY = "imagery", "Imagery (photo, video, satellite)"
    OTHER = "other", "Other"


class SourceReliability(models.TextChoices):
    A = "A", "A — completely reliable"
    B = "B", "B — usually reliable"
    C = "C", "C — fairly reliable"
    D = "D", "D — not usually reliable"
    E = "E", "E — unreliable"
    F = "F", "F — reliability cannot be judged"


class SourceCredibility(models.IntegerChoices):
    CONFIRMED = 1, "1 — confirmed by other sources"
    PROBABLY_TRUE = 2, "2 — probably true"
    POSSIBLY_TRUE = 3, "3 — possibly true"
    DOUBTFUL = 4, "4 — doubtful"
    IMPROBABLE = 5, "5 — improbable"
    CANNOT_JUDGE = 6, "6 — truth cannot be judged"


class Source(Retirable, TimeStamped):
    """A report an incident rests on, graded on the Admiralty (NATO) scale; one source can back many incidents."""

    Kind = SourceKind

    Reliability = SourceReliability

    Credibility = SourceCredibility

    publisher = models.CharField(max_length=200)
    title = models.CharField(max_length=500)
    url = models.URLField(max_length=1000, blank=True)
    published_on = models.DateField(null=True, blank=True)
    kind = models.CharField(max_length=24, choices=SourceKind.choices)
    reliability = models.CharField(max_length=1, choices=SourceReliability.choices, default=SourceReliability.F)
    credibility = models.PositiveSmallIntegerField(
        choices=SourceCredibility.choices,
        default=SourceCredibility.CANNOT_JUDGE,
        validators=[MinValueValidator(1), MaxValueValidator(6)],
    )
    sha256 = models.CharField(
        "SHA-256 of archived copy",
        max_length=64,
        blank=True,
        validators=[RegexValidator(r"^[0-9a-f]{64}$", "A SHA-256 is 64 lowercase hexadecimal characters.")],
    )
    archived_file = models.FileField(
        upload_to="sources/%Y/%m/", blank=True, help_text="An archived copy (PDF, image, HTML); staff only."
    )
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-published_on", "publisher", "title"]
        constraints = [
            retirement_constraint("agreements_source"),
            choices_constraint("kind", SourceKind.choices, "agreements_source_kind_valid"),
            choices_constraint("reliability", SourceReliability.choices, "agreements_source_reliability_valid"),
            models.CheckConstraint(
                condition=models.Q(credibility__gte=1, credibility__lte=6),
                name="agreements_source_credibility_range",
                violation_error_message="Credibility is graded 1 to 6.",
            ),
            models.CheckConstraint(
                condition=models.Q(sha256="") | models.Q(sha256__regex=r"^[0-9a-f]{64}$"),
                name="agreements_source_sha256_format",
                violation_error_message="A SHA-256 is 64 lowercase hexadecimal characters.",
            ),
            models.UniqueConstraint(
                fields=["url"],
                condition=~models.Q(url=""),
                name="agreements_source_unique_url",
                violation_error_message="A source with this URL exists already: reuse it.",
            ),
        ]

    def __str__(self):
        return f"{self.publisher}: {self.title} [{self.grade}]"

    @property
    def grade(self) -> str:
        """The Admiralty grade as analysts write it, e.g. "B2"."""
        return f"{self.reliability}{self.credibility}"


class ViolationSource(Retirable, models.Model):
    """That a source reports a violation, with what it says about this incident in particular."""

    violation = models.ForeignKey(Violation, on_delete=models.CASCADE, related_name="citations")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="citations")
    note = models.CharField(max_length=500, blank=True, help_text="What this source says about this incident.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        verbose_name = "source of a violation"
        verbose_name_plural = "sources"
        # Un-cited sources are retired links: the ones that stand are what every reader of `citations` sees.
        default_manager_name = "objects"
        constraints = [
            retirement_constraint("agreements_violationsource"),
            models.UniqueConstraint(
                fields=["violation", "source"],
                name="agreements_violationsource_unique",
                violation_error_message="This source is already cited for this violation.",
            ),
        ]

    def __str__(self):
        return str(self.source)


class ViolationReview(models.Model):
    """One step of a violation's review: who moved it from which status to which, when, and why."""

    violation = models.ForeignKey(Violation, on_delete=models.CASCADE, related_name="reviews")
    from_status = models.CharField(max_length=16, choices=ViolationStatus.choices)
    to_status = models.CharField(max_length=16, choices=ViolationStatus.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="violation_reviews")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["violation", "at", "id"]
        constraints = [
            choices_constraint("from_status", ViolationStatus.choices, "agreements_violationreview_from_valid"),
            choices_constraint("to_status", ViolationStatus.choices, "agreements_violationreview_to_valid"),
            models.CheckConstraint(
                condition=~models.Q(from_status=models.F("to_status")),
                name="agreements_violationreview_changes_status",
                violation_error_message="A review step changes the status.",
            ),
        ]

    def __str__(self):
        return f"{self.from_status} → {self.to_status} by {self.user} at {self.at:%Y-%m-%d %H:%M}"
