"""Admin for what happened: violations and their sources, patrols, route statuses, control changes."""

from django.contrib import admin
from django.db.models import Count, Prefetch

from agreements import services
from agreements.admin.base import RecordAdmin
from agreements.admin.forms import CitationForm, ViolationForm
from agreements.models import Actor, Clause, ControlChange, Patrol, RouteStatus, Source, Violation, ViolationSource


class CitationInline(admin.StackedInline):
    model = ViolationSource
    form = CitationForm
    extra = 2
    autocomplete_fields = ["source"]
    fieldsets = [
        (None, {"fields": ["source", "note"]}),
        (
            "…or a new source",
            {
                "fields": [
                    ("new_publisher", "new_title"),
                    ("new_url", "new_published_on"),
                    ("new_kind", "new_reliability", "new_credibility"),
                ]
            },
        ),
    ]
    verbose_name = "source"
    verbose_name_plural = "sources (at least one; graded on the Admiralty scale)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("source")


class RetractedFilter(admin.SimpleListFilter):
    title = "retracted"
    parameter_name = "retracted"

    def lookups(self, request, model_admin):
        return [("no", "Not retracted"), ("yes", "Retracted")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(retracted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(retracted_at__isnull=False)
        return queryset


@admin.register(Violation)
class ViolationAdmin(RecordAdmin):
    form = ViolationForm
    inlines = [CitationInline]
    list_display = ["started_at", "place_name", "perpetrator_names", "clause_numbers", "category", "status", "in_zone"]
    list_display_links = ["started_at", "place_name"]
    list_filter = [
        "status",
        RetractedFilter,
        "in_zone",
        "agreement",
        "category",
        ("clauses", admin.RelatedOnlyFieldListFilter),
        ("perpetrators", admin.RelatedOnlyFieldListFilter),
        "started_at",
    ]
    list_select_related = ["place", "agreement"]
    date_hierarchy = "started_at"
    search_fields = ["description", "place__name", "place__aliases__name", "perpetrators__name", "=uuid"]
    autocomplete_fields = ["agreement", "clauses", "perpetrators", "affected_actors", "place"]
    readonly_fields = [
        "uuid",
        "status",
        "in_zone",
        "zone",
        "reported_by",
        "updated_by",
        "verified_by",
        "verified_at",
        "retracted_at",
        "retracted_by",
        "retraction_reason",
        "version",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        ("What", {"fields": ["agreement", "clauses", "category", "description", "loaded_version"]}),
        ("Who", {"fields": ["perpetrators", "affected_actors"]}),
        ("When", {"fields": [("started_at", "ended_at"), "time_precision"]}),
        ("Where", {"fields": ["place", ("latitude", "longitude"), "location_precision", ("in_zone", "zone")]}),
        (
            "Casualties (low / best / high; leave empty when not reported)",
            {
                "fields": [
                    ("killed_low", "killed_best", "killed_high"),
                    ("civilians_killed_low", "civilians_killed_best", "civilians_killed_high"),
                    ("injured_low", "injured_best", "injured_high"),
                    ("civilians_injured_low", "civilians_injured_best", "civilians_injured_high"),
                ]
            },
        ),
        (
            "Humanitarian impact",
            {
                "fields": [
                    "displaced",
                    ("health_facilities_hit", "education_facilities_hit", "idp_sites_hit", "camps_hit"),
                ]
            },
        ),
        (
            "Record",
            {
                "fields": [
                    ("uuid", "version"),
                    ("status", "verified_by", "verified_at"),
                    ("reported_by", "created_at"),
                    ("updated_by", "updated_at"),
                    ("retracted_at", "retracted_by", "retraction_reason"),
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        # The list shows perpetrators and clause numbers; prefetching keeps it at a fixed number of queries.
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("perpetrators", queryset=Actor.objects.only("id", "name", "short_name")),
                Prefetch("clauses", queryset=Clause.objects.only("id", "number", "position")),
            )
        )

    def has_delete_permission(self, request, obj=None):
        return False  # violations are retracted, never deleted

    @admin.display(description="where", ordering="place__name")
    def place_name(self, obj):
        return obj.place.name if obj.place_id else f"{obj.latitude}, {obj.longitude}"

    @admin.display(description="who")
    def perpetrator_names(self, obj):
        return ", ".join(actor.label for actor in obj.perpetrators.all()) or "—"

    @admin.display(description="clauses")
    def clause_numbers(self, obj):
        return ", ".join(clause.number for clause in obj.clauses.all()) or "—"

    def save_model(self, request, obj, form, change):
        pass  # saved in save_related, through the service, together with its links and sources

    def save_related(self, request, form, formsets, change):
        data = form.cleaned_data
        services.violation_save(
            violation=form.instance,
            user=request.user,
            clauses=data.get("clauses"),
            perpetrators=data.get("perpetrators"),
            affected_actors=data.get("affected_actors"),
            expected_version=data.get("loaded_version") if change else None,
        )
        for formset in formsets:
            # The admin's change message reads these lists, which formset.save() would have filled.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            for citation_form in formset.forms:
                self._save_citation(request, form.instance, formset, citation_form)

    def _save_citation(self, request, violation, formset, citation_form):
        citation = citation_form.instance
        if formset.can_delete and formset._should_delete_form(citation_form):
            if citation.pk:
                services.citation_remove(citation=citation, user=request.user)
                formset.deleted_objects.append(citation)
        elif citation.pk:
            if citation_form.has_changed():
                services.record_save(instance=citation, user=request.user)
                formset.changed_objects.append((citation, citation_form.changed_data))
        elif citation_form.has_changed():
            formset.new_objects.append(
                services.violation_cite(
                    violation=violation,
                    user=request.user,
                    source=citation_form.cleaned_data.get("source"),
                    new_source=citation_form.new_source(),
                    note=citation_form.cleaned_data.get("note", ""),
                )
            )


@admin.register(Source)
class SourceAdmin(RecordAdmin):
    list_display = ["publisher", "title", "published_on", "kind", "grade", "citation_count"]
    list_filter = ["kind", "reliability", "credibility"]
    search_fields = ["publisher", "title", "url"]
    date_hierarchy = "published_on"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(citation_total=Count("citations"))

    @admin.display(description="grade", ordering="reliability")
    def grade(self, obj):
        return obj.grade

    @admin.display(description="cited by", ordering="citation_total")
    def citation_count(self, obj):
        return obj.citation_total


@admin.register(Patrol)
class PatrolAdmin(RecordAdmin):
    list_display = ["patrolled_on", "kind", "outcome", "route", "agreement"]
    list_filter = ["agreement", "kind", "outcome"]
    list_select_related = ["agreement"]
    search_fields = ["route", "notes"]
    date_hierarchy = "patrolled_on"
    autocomplete_fields = ["agreement", "clause", "participants", "incidents", "source"]


@admin.register(RouteStatus)
class RouteStatusAdmin(RecordAdmin):
    list_display = ["observed_on", "route", "segment", "status", "agreement"]
    list_filter = ["agreement", "route", "status"]
    list_select_related = ["agreement"]
    search_fields = ["route", "segment", "notes"]
    date_hierarchy = "observed_on"
    autocomplete_fields = ["agreement", "clause", "source"]


@admin.register(ControlChange)
class ControlChangeAdmin(RecordAdmin):
    list_display = ["occurred_on", "where", "locations", "from_actor", "to_actor", "agreement"]
    list_filter = ["agreement", ("to_actor", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["agreement", "place", "from_actor", "to_actor"]
    search_fields = ["place__name", "area_description", "notes"]
    date_hierarchy = "occurred_on"
    autocomplete_fields = ["agreement", "place", "from_actor", "to_actor", "violation", "source"]

    @admin.display(description="where", ordering="place__name")
    def where(self, obj):
        return obj.place.name if obj.place_id else obj.area_description
