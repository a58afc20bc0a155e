"""Admin for what happened: violations and their sources, patrols, route statuses, control changes."""

from django.contrib import admin, messages
from django.db.models import Count, Prefetch, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from agreements import evidence, services
from agreements.admin.base import BaseAdmin, retired_filter
from agreements.admin.forms import CitationForm, RetractionForm, ReviewNoteForm, SourceForm, ViolationForm
from agreements.duplicates import likely_duplicates
from agreements.models import (
    Actor,
    Clause,
    ControlChange,
    Patrol,
    RouteStatus,
    Source,
    Violation,
    ViolationReview,
    ViolationSource,
)
from agreements.services import permissions


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


RetractedFilter = retired_filter("retracted_at", title="retracted", yes="Retracted")


def _review_action(transition, *, description: str, verb: str):
    """An admin action that asks for an optional note on an intermediate page, then moves each selected violation
    through `transition` (a workflow function); refusals are reported per violation and change nothing."""

    def action(modeladmin, request, queryset):
        return modeladmin.run_row_action(
            request,
            queryset,
            step=lambda violation, **data: transition(violation=violation, user=request.user, **data),
            form_class=ReviewNoteForm,
            verb=verb,
        )

    action.__name__ = f"{verb}_selected"
    return admin.action(description=description, permissions=["review"])(action)


@admin.action(description="Retract selected violations (with a reason)…", permissions=["retract"])
def retract_selected(modeladmin, request, queryset):
    return modeladmin.run_row_action(
        request,
        queryset,
        step=lambda violation, reason: services.violation_retract(
            violation=violation, user=request.user, reason=reason
        ),
        form_class=RetractionForm,
        verb="retract",
    )


@admin.register(Violation)
class ViolationAdmin(BaseAdmin):
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
        "review_log",
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
        ("Review", {"fields": ["review_log"]}),
    ]
    actions = [
        _review_action(services.violation_verify, description="Verify selected violations…", verb="verify"),
        _review_action(services.violation_dispute, description="Dispute selected violations…", verb="dispute"),
        _review_action(services.violation_reject, description="Reject selected violations…", verb="reject"),
        _review_action(services.violation_reopen, description="Reopen selected violations for review…", verb="reopen"),
        retract_selected,
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

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return super().has_change_permission(request)
        # The services' own rule (a monitor edits their own unverified entry): a page they may not save is read-only.
        return permissions.violation_edit_refusal(violation=obj, user=request.user) is None

    def has_review_permission(self, request):
        return request.user.has_perm(permissions.REVIEW_VIOLATION)

    def has_retract_permission(self, request):
        # Monitors may retract their own unreviewed violations; the workflow decides row by row.
        return request.user.has_perm(permissions.RETRACT_VIOLATION) or request.user.has_perm(
            permissions.CHANGE_VIOLATION
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # never offered, whatever the permissions say
        return actions

    @admin.display(description="review log")
    def review_log(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        steps = ViolationReview.objects.filter(violation=obj).select_related("user").order_by("at", "id")
        if not steps:
            return "Not reviewed yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{step.at:%Y-%m-%d %H:%M}",
                    step.get_from_status_display(),
                    step.get_to_status_display(),
                    step.user,
                    step.note or "—",
                )
                for step in steps
            ),
        )
        return format_html(
            "<table><thead><tr><th>when</th><th>step</th><th>by</th><th>note</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

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
        for hint in likely_duplicates(form.instance)[:5]:
            where = "same place" if hint.same_place else f"{hint.distance_km:.1f} km away"
            self.message_user(
                request,
                format_html(
                    'Possible duplicate: <a href="{}">{}</a> ({}, same day and category). '
                    "A reviewer can merge them from the To-do page.",
                    reverse("admin:agreements_violation_change", args=[hint.violation.pk]),
                    hint.violation,
                    where,
                ),
                messages.WARNING,
            )

    def _save_citation(self, request, violation, formset, citation_form):
        citation = citation_form.instance
        if formset.can_delete and formset._should_delete_form(citation_form):
            if citation.pk:
                services.citation_remove(citation=citation, user=request.user, reason="removed in the admin")
                formset.deleted_objects.append(citation)
        elif citation.pk:
            if citation_form.has_changed():
                services.citation_update(citation=citation, user=request.user)
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
class SourceAdmin(BaseAdmin):
    """Sources are typed once and picked by autocomplete wherever they are cited (see CitationInline)."""

    form = SourceForm
    list_display = ["publisher", "title", "published_on", "kind", "grade", "citation_count", "archived"]
    list_filter = ["kind", "reliability", "credibility"]
    search_fields = ["publisher", "title", "url"]
    date_hierarchy = "published_on"
    readonly_fields = ["grade", "archived_copy"]
    fieldsets = [
        (None, {"fields": ["publisher", "title", "url", "published_on", "kind"]}),
        ("Admiralty grade", {"fields": [("reliability", "credibility"), "grade"]}),
        ("Archived copy", {"fields": ["archived_file", "archived_copy", "sha256"]}),
        (None, {"fields": ["notes"]}),
    ]

    def save_service(self, request, obj, form, change):
        evidence.source_save(source=obj, user=request.user, upload=form.upload())

    @admin.display(description="archived", boolean=True)
    def archived(self, obj):
        return bool(obj.archived_file)

    @admin.display(description="download (staff only)")
    def archived_copy(self, obj):
        if not obj.archived_file:
            return "—"
        path = obj.archived_file.name.removeprefix("sources/")
        return format_html('<a href="{}">{}</a>', reverse("source-file", args=[path]), obj.archived_file.name)

    def get_queryset(self, request):
        # A grouped query drops Meta.ordering; order explicitly, or the autocomplete that reuses sources pages an
        # unordered list.
        return (
            super()
            .get_queryset(request)
            .annotate(citation_total=Count("citations", filter=Q(citations__retired_at__isnull=True)))
            .order_by(*Source._meta.ordering, "pk")
        )

    @admin.display(description="grade", ordering="reliability")
    def grade(self, obj):
        return obj.grade

    @admin.display(description="cited by", ordering="citation_total")
    def citation_count(self, obj):
        return obj.citation_total


@admin.register(Patrol)
class PatrolAdmin(BaseAdmin):
    list_display = ["patrolled_on", "kind", "outcome", "route", "agreement"]
    list_filter = ["agreement", "kind", "outcome"]
    list_select_related = ["agreement"]
    search_fields = ["route", "notes"]
    date_hierarchy = "patrolled_on"
    autocomplete_fields = ["agreement", "clause", "participants", "incidents", "source"]


@admin.register(RouteStatus)
class RouteStatusAdmin(BaseAdmin):
    list_display = ["observed_on", "route", "segment", "status", "agreement"]
    list_filter = ["agreement", "route", "status"]
    list_select_related = ["agreement"]
    search_fields = ["route", "segment", "notes"]
    date_hierarchy = "observed_on"
    autocomplete_fields = ["agreement", "clause", "source"]


@admin.register(ControlChange)
class ControlChangeAdmin(BaseAdmin):
    list_display = ["occurred_on", "where", "locations", "from_actor", "to_actor", "agreement"]
    list_filter = ["agreement", ("to_actor", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["agreement", "place", "from_actor", "to_actor"]
    search_fields = ["place__name", "area_description", "notes"]
    date_hierarchy = "occurred_on"
    autocomplete_fields = ["agreement", "place", "from_actor", "to_actor", "violation", "source"]

    @admin.display(description="where", ordering="place__name")
    def where(self, obj):
        return obj.place.name if obj.place_id else obj.area_description
