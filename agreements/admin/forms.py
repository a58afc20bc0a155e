from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from agreements import evidence, services
from agreements.models import Source, Violation, ViolationSource
from agreements.models.violations import COUNT_FIELDS


class ViolationForm(forms.ModelForm):
    # The version the editor loaded; if someone saves in between, this save is refused (stale-edit guard).
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Violation
        fields = [
            "agreement",
            "clauses",
            "category",
            "description",
            "perpetrators",
            "affected_actors",
            "started_at",
            "ended_at",
            "time_precision",
            "place",
            "latitude",
            "longitude",
            "location_precision",
            *COUNT_FIELDS,
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk:
            services.violation_check_version(violation=self.instance, expected_version=cleaned.get("loaded_version"))
        if cleaned.get("agreement") and cleaned.get("clauses") is not None:
            self.instance.agreement = cleaned["agreement"]
            services.violation_check_clauses(violation=self.instance, clauses=cleaned["clauses"])
        return cleaned


class CitationForm(forms.ModelForm):
    """One source of a violation: pick a known source, or type a new one in place (it is created on save)."""

    new_publisher = forms.CharField(label="publisher", required=False, max_length=200)
    new_title = forms.CharField(label="title", required=False, max_length=500)
    new_url = forms.URLField(label="URL", required=False, max_length=1000, assume_scheme="https")
    new_published_on = forms.DateField(label="published on", required=False)
    new_kind = forms.ChoiceField(label="kind", choices=Source.Kind.choices, initial=Source.Kind.NEWS_REPORT)
    new_reliability = forms.ChoiceField(
        label="reliability", choices=Source.Reliability.choices, initial=Source.Reliability.F
    )
    new_credibility = forms.TypedChoiceField(
        label="credibility", choices=Source.Credibility.choices, coerce=int, initial=Source.Credibility.CANNOT_JUDGE
    )

    NEW_FIELDS = ["new_publisher", "new_title", "new_url", "new_published_on"]

    class Meta:
        model = ViolationSource
        fields = ["source", "note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].required = False
        self.fields["source"].help_text = "A source we already have — or leave empty and describe a new one."

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and not cleaned.get("source"):
            return cleaned  # an existing citation keeps its source
        problem = services.citation_source_problem(
            source=cleaned.get("source"),
            publisher=cleaned.get("new_publisher") or "",
            title=cleaned.get("new_title") or "",
            kind=cleaned.get("new_kind") or "",
            typed=any(cleaned.get(name) for name in self.NEW_FIELDS),
        )
        if problem:
            raise ValidationError(problem)
        return cleaned

    def has_changed(self):
        # The new-source choice fields have initial values, so an untouched extra row would count as changed.
        return bool(self.changed_data and set(self.changed_data) - {"new_kind", "new_reliability", "new_credibility"})

    def new_source(self) -> services.NewSource | None:
        if self.cleaned_data.get("source"):
            return None
        return services.NewSource(
            publisher=self.cleaned_data["new_publisher"],
            title=self.cleaned_data["new_title"],
            url=self.cleaned_data.get("new_url") or "",
            published_on=self.cleaned_data.get("new_published_on"),
            kind=self.cleaned_data["new_kind"],
            reliability=self.cleaned_data["new_reliability"],
            credibility=self.cleaned_data["new_credibility"],
        )


class ReviewNoteForm(forms.Form):
    """The intermediate page of the verify / dispute / reject / reopen actions."""

    note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Optional: what you checked, or why you doubt it. Kept in the violation's review log.",
    )


class RetirementForm(forms.Form):
    """The intermediate page of the retire action: a reason is required."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Why the record no longer stands (entered in error, superseded, …). The row is kept and readable.",
        error_messages={"required": "Say why the records are retired."},
    )


class RetractionForm(forms.Form):
    """The intermediate page of the retract action: a reason is required."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Why the record is withdrawn (duplicate, entered in error, …). The row is kept, out of counts.",
        error_messages={"required": "Say why the violations are retracted."},
    )


class SourceForm(forms.ModelForm):
    """A source with an optional archived copy: its type and size are checked here, its SHA-256 computed on save."""

    url = forms.URLField(label="URL", required=False, max_length=1000, assume_scheme="https")

    class Meta:
        model = Source
        fields = [
            "publisher",
            "title",
            "url",
            "published_on",
            "kind",
            "reliability",
            "credibility",
            "archived_file",
            "sha256",
            "notes",
        ]
        help_texts = {
            "archived_file": f"PDF, image, HTML or text ({', '.join(evidence.ALLOWED_TYPES)}); staff only.",
            "sha256": "Computed from the archived file when one is uploaded; type it only for a copy kept elsewhere.",
        }

    def clean_archived_file(self):
        upload = self.cleaned_data.get("archived_file")
        if upload and "archived_file" in self.changed_data and isinstance(upload, UploadedFile):
            evidence.check_upload(upload)  # the same check source_save runs; here it lands on the field
        return upload

    def upload(self):
        """The newly uploaded file, if one was uploaded (not the stored one, nor a cleared field)."""
        upload = self.cleaned_data.get("archived_file")
        if upload and "archived_file" in self.changed_data and isinstance(upload, UploadedFile):
            return upload
        return None
