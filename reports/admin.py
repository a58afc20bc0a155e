"""Admin for conclusions: people's assessments of clauses, saved through `reports.assessments`."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminDateWidget, AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from agreements.admin.base import BaseAdmin
from agreements.models import Actor, Agreement
from reports import rendering, todo  # noqa: F401  (todo registers the To-do page)
from reports.assessments import assessment_check, assessment_record
from reports.issuing import frozen_hash_matches, report_get_or_issue
from reports.models import Assessment, Report

IDENTITY_FIELDS = ["clause", "actor", "period_start", "period_end"]


class AssessmentForm(forms.ModelForm):
    class Meta:
        model = Assessment
        fields = [*IDENTITY_FIELDS, "status", "score", "rationale"]

    def clean(self):
        data = super().clean()
        instance = self.instance
        values = {name: data.get(name, getattr(instance, name, None)) for name in IDENTITY_FIELDS}
        if values["clause"] is None or self.errors:
            return data
        try:
            assessment_check(**values, status=data.get("status"), score=data.get("score"))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return data


@admin.register(Assessment)
class AssessmentAdmin(BaseAdmin):
    """A person's assessment beside the computed one; every save goes through `assessment_record`."""

    form = AssessmentForm
    list_display = [
        "clause",
        "actor",
        "period_start",
        "period_end",
        "status",
        "score",
        "computed_status",
        "computed_score",
        "assessed_by",
    ]
    list_filter = ["clause__agreement", "status", "computed_status", "score", "period_end"]
    # The clause's agreement and the actor are on every row; the assessor too.
    list_select_related = ["clause__agreement", "actor", "assessed_by"]
    search_fields = ["clause__number", "clause__title", "actor__name", "rationale"]
    autocomplete_fields = ["clause", "actor"]
    date_hierarchy = "period_end"
    list_per_page = 50
    computed_fields = [
        "computed_status",
        "computed_score",
        "computed_rule",
        "evidence_shown",
        "assessed_by",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": IDENTITY_FIELDS}),
        ("The person's assessment", {"fields": ["status", "score", "rationale"]}),
        ("Computed by the engine when last saved", {"fields": computed_fields}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # Clause, actor and period are what the assessment is of: fixed once recorded (record another instead).
        return [*self.computed_fields, *(IDENTITY_FIELDS if obj is not None else [])]

    @admin.display(description="evidence")
    def evidence_shown(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.evidence, indent=2, ensure_ascii=False))

    def save_model(self, request, obj, form, change):
        saved = assessment_record(
            clause=obj.clause,
            actor=obj.actor,
            period_start=obj.period_start,
            period_end=obj.period_end,
            status=obj.status,
            score=obj.score,
            rationale=obj.rationale,
            user=request.user,
        )
        # The admin goes on with `obj` (its log entry, the redirect): give it what was saved.
        for field in Assessment._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The form shows the service's checks as field errors; this catches what only the save can see (an
        # assessment of the same key recorded meanwhile), as a message instead of an error page.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


# --- issued reports -------------------------------------------------------------------------------------------


class ReportIssueForm(forms.Form):
    """What to report on; the admin's face of `reports.issuing.report_issue`."""

    agreement = forms.ModelChoiceField(
        queryset=Agreement.objects.all(),
        widget=AutocompleteSelect(Report._meta.get_field("agreement"), admin.site),
    )
    start = forms.DateField(label="From", widget=AdminDateWidget, help_text="First day of the period (UTC).")
    end = forms.DateField(label="To", widget=AdminDateWidget, help_text="Last day of the period, included.")
    actor = forms.ModelChoiceField(
        queryset=Actor.objects.all(),
        required=False,
        widget=AutocompleteSelect(Report._meta.get_field("actor"), admin.site),
        help_text="Optional: only the violations alleged against this actor or its parts.",
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The period ends before it starts.")
        return data


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Issued reports, read-only: download links per format; "Issue report" builds and freezes a new one."""

    list_display = ["title", "agreement", "period", "actor", "issued_by", "issued_at", "hash_prefix", "downloads"]
    list_filter = ["agreement", "issued_at"]
    list_select_related = ["agreement", "actor", "issued_by"]
    search_fields = ["title", "sha256", "agreement__slug", "agreement__title"]
    date_hierarchy = "issued_at"
    autocomplete_fields = ["agreement", "actor"]  # what the issue form's widgets ask the autocomplete view for
    list_per_page = 50
    fields = [
        "title",
        "agreement",
        "actor",
        "period_start",
        "period_end",
        "issued_by",
        "issued_at",
        "sha256",
        "hash_check",
        "summary",
        "parameters",
        "downloads",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        # The frozen data is the bulk of a row; the list does not show it.
        return super().get_queryset(request).defer("frozen_data")

    def has_add_permission(self, request):
        return request.user.has_perm("reports.add_report")

    def has_change_permission(self, request, obj=None):
        return False  # an issued report is never edited

    def has_delete_permission(self, request, obj=None):
        return False  # nor deleted; a report withdrawn is retired (reports.models.Report is Retirable)

    @admin.display(description="period", ordering="period_start")
    def period(self, obj):
        return f"{obj.period_start} – {obj.period_end}"

    @admin.display(description="SHA-256")
    def hash_prefix(self, obj):
        return format_html('<code title="{}">{}…</code>', obj.sha256, obj.sha256[:12])

    @admin.display(description="download")
    def downloads(self, obj):
        links = [
            (reverse("admin:reports_report_download", args=[obj.pk, fmt]), fmt.upper()) for fmt in rendering.DOWNLOADS
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    @admin.display(description="unchanged since issued")
    def hash_check(self, obj):
        if frozen_hash_matches(obj):
            return "Yes: the frozen data still hashes to this SHA-256."
        return format_html('<strong style="color:#ba2121">{}</strong>', "No: the frozen data does not match its hash.")

    @admin.display(description="summary")
    def summary(self, obj):
        data = obj.frozen_data
        percent = data["assessment"].get("implementation_percent")
        return (
            f"Overall implementation {'—' if percent is None else f'{percent:g}%'}; "
            f"{data['assessment'].get('scored_clauses')} of {data['assessment'].get('clause_count')} clauses scored; "
            f"{rendering.current_schema(data)['summary']['violations']} violations counted."
        )

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [
            path("<int:pk>/download/<str:fmt>/", download, name="reports_report_download"),
            *super().get_urls(),
        ]

    def download_view(self, request, pk, fmt):
        report = Report.objects.select_related("issued_by").filter(pk=pk).first()
        if report is None or fmt not in rendering.DOWNLOADS:
            raise Http404("No such report or format.")
        if not self.has_view_permission(request, report):
            raise PermissionDenied
        try:
            rendered = rendering.render(report, fmt)
        except ValueError as exc:  # an annex asked of a report issued before annexes
            raise Http404(str(exc)) from exc
        response = HttpResponse(rendered.content, content_type=rendered.content_type)
        response["Content-Disposition"] = f'attachment; filename="{rendered.filename}"'
        return response

    def add_view(self, request, form_url="", extra_context=None):
        """The "Issue report" page: a small form (agreement, period, actor) instead of a model form."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ReportIssueForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                report, created = report_get_or_issue(
                    agreement=data["agreement"], start=data["start"], end=data["end"], actor=data["actor"],
                    user=request.user,
                )  # fmt: skip
            except (ValidationError, ValueError) as exc:
                form.add_error(None, " ".join(getattr(exc, "messages", [str(exc)])))
            else:
                if created:
                    self.log_addition(request, report, [{"added": {}}])
                    self.message_user(request, f"Issued “{report.title}” (SHA-256 {report.sha256[:12]}…).")
                else:
                    self.message_user(
                        request,
                        f"Nothing changed since report {report.pk} was issued by {report.issued_by} on "
                        f"{report.issued_at:%Y-%m-%d %H:%M} UTC: that report is the one for this content.",
                        messages.WARNING,
                    )
                return HttpResponseRedirect(reverse("admin:reports_report_change", args=[report.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Issue report",
            "subtitle": None,
            "opts": self.model._meta,
            "form": form,
            "media": self.media + form.media,
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/reports/report/issue.html", context)
