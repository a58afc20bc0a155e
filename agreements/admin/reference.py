"""Admin for what is agreed and where: agreements, actors, clauses, zones, places."""

from django.contrib import admin
from django.db.models import Count

from agreements import services
from agreements.admin.base import AliasInline, BaseAdmin, VersionedForm
from agreements.models import Actor, ActorAlias, Agreement, AgreementParty, Clause, Place, PlaceAlias, Zone


class AgreementPartyInline(admin.TabularInline):
    model = AgreementParty
    extra = 1
    autocomplete_fields = ["actor"]


@admin.register(Agreement)
class AgreementAdmin(BaseAdmin):
    list_display = ["slug", "title", "signed_on", "signed_at", "status", "clause_count"]
    list_filter = ["status"]
    search_fields = ["slug", "title", "short_title", "summary"]
    prepopulated_fields = {"slug": ["short_title"]}
    autocomplete_fields = ["amends"]
    inlines = [AgreementPartyInline]
    fieldsets = [
        (None, {"fields": ["slug", "title", "short_title", "status", "summary"]}),
        ("Signature and force", {"fields": ["signed_on", "signed_at", "in_force_from", "in_force_until"]}),
        ("Relation to earlier agreements", {"fields": ["amends", "relation"]}),
        ("Text", {"fields": ["source_url", "text"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        # Meta.ordering is dropped from GROUP BY queries; say it again, or autocomplete pages come out unordered.
        return super().get_queryset(request).annotate(clause_total=Count("clauses")).order_by(*Agreement._meta.ordering)

    @admin.display(description="clauses", ordering="clause_total")
    def clause_count(self, obj):
        return obj.clause_total


class ActorAliasInline(AliasInline):
    model = ActorAlias


@admin.register(Actor)
class ActorAdmin(BaseAdmin):
    list_display = ["name", "short_name", "kind", "part_of", "country"]
    list_filter = ["kind"]
    list_select_related = ["part_of"]
    search_fields = ["name", "short_name", "slug", "aliases__name"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["part_of", "backed_by"]
    inlines = [ActorAliasInline]


@admin.register(Clause)
class ClauseAdmin(BaseAdmin):
    list_display = ["number", "title", "agreement", "kind", "deadline"]
    list_display_links = ["number", "title"]
    list_filter = ["agreement", "kind", ("deadline", admin.EmptyFieldListFilter)]
    list_select_related = ["agreement"]
    search_fields = ["number", "title", "text", "agreement__slug", "agreement__short_title"]
    autocomplete_fields = ["agreement", "obligated_actors"]
    form = VersionedForm
    fields = [
        "agreement",
        "number",
        "position",
        "title",
        "text",
        "kind",
        "deadline",
        "obligated_actors",
        "terms",
        "loaded_version",
    ]

    def get_readonly_fields(self, request, obj=None):
        # A clause never changes agreement: the evidence and assessments filed under it belong to that agreement.
        return ["agreement"] if obj is not None else []

    def save_service(self, request, obj, form, change):
        # The obligated actors are saved with the form's other many-to-many fields, after this.
        services.clause_save(clause=obj, user=request.user, expected_version=self.expected_version(form, change))


@admin.register(Zone)
class ZoneAdmin(BaseAdmin):
    list_display = ["name", "agreement", "kind", "precision", "depth_km_min", "depth_km_max"]
    list_filter = ["agreement", "kind", "precision"]
    list_select_related = ["agreement"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["agreement", "clause"]
    form = VersionedForm

    def save_service(self, request, obj, form, change):
        services.zone_save(zone=obj, user=request.user, expected_version=self.expected_version(form, change))


class PlaceAliasInline(AliasInline):
    model = PlaceAlias


@admin.register(Place)
class PlaceAdmin(BaseAdmin):
    list_display = ["name", "kind", "admin1", "admin2", "pcode", "latitude", "longitude"]
    list_filter = ["kind", "admin1"]
    search_fields = ["name", "aliases__name", "pcode", "admin1", "admin2", "admin3"]
    inlines = [PlaceAliasInline]
    fieldsets = [
        (None, {"fields": ["name", "kind", "country", "notes"]}),
        ("Administrative areas", {"fields": ["admin1", "admin2", "admin3", "pcode"]}),
        ("Coordinates", {"fields": ["latitude", "longitude", "loaded_version"]}),
    ]
    form = VersionedForm

    def save_service(self, request, obj, form, change):
        services.place_save(place=obj, user=request.user, expected_version=self.expected_version(form, change))
