from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from simple_history.admin import SimpleHistoryAdmin

from agreements import services
from agreements.admin.forms import RetirementForm
from agreements.models.base import Retirable
from agreements.services.base import Refused


class VersionedForm(forms.ModelForm):
    """For records with a version (places, zones, clauses): the stale-edit guard, as on violations."""

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        loaded = cleaned.get("loaded_version")
        if self.instance.pk and loaded is not None and loaded != self.instance.version:
            raise ValidationError(
                f"This {self.instance._meta.verbose_name} was changed by someone else since you opened it (now "
                f"version {self.instance.version}, you loaded version {loaded}). Reload it and apply your edit again."
            )
        return cleaned


def retired_filter(field: str = "retired_at", *, title: str = "retired", yes: str = "Retired"):
    # The query parameter is the title ("retired", "retracted"), as in the API's lists.
    """A list filter that leaves retired (or retracted) rows out unless asked for, as the API's lists do."""

    class RetiredFilter(admin.SimpleListFilter):
        parameter_name = title

        def lookups(self, request, model_admin):
            return [("no", f"Not {yes.lower()}"), ("yes", yes), ("all", "All")]

        def value(self):
            return super().value() or "no"

        def choices(self, changelist):
            for lookup, label in self.lookup_choices:
                yield {
                    "selected": self.value() == lookup,
                    "query_string": changelist.get_query_string(
                        {self.parameter_name: lookup} if lookup != "no" else {}, [self.parameter_name]
                    ),
                    "display": label,
                }

        def queryset(self, request, queryset):
            if self.value() == "yes":
                return queryset.filter(**{f"{field}__isnull": False})
            if self.value() == "all":
                return queryset
            return queryset.filter(**{f"{field}__isnull": True})

    RetiredFilter.title = title
    return RetiredFilter


@admin.action(description="Retire selected (with a reason)…", permissions=["change"])
def retire_selected(modeladmin, request, queryset):
    return modeladmin.run_row_action(
        request,
        queryset,
        step=lambda record, reason: services.model_retire(instance=record, user=request.user, reason=reason),
        form_class=RetirementForm,
        verb="retire",
    )


class BaseAdmin(SimpleHistoryAdmin):
    """Saves through a service and shows the change history of every record; deletes nothing that is evidence.

    Subclasses name their service in `save_service`; the default validates, saves and attributes the change.
    Retirable records (agreements.models.base.Retirable) get a "retire" action instead of delete, a filter that
    leaves retired rows out unless asked for, and a read-only page once retired.
    """

    list_per_page = 50
    save_on_top = True
    # Sources are pasted without a scheme as often as with one; assume https (Django 6's default).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @property
    def retirable(self) -> bool:
        return issubclass(self.model, Retirable)

    def save_service(self, request, obj, form, change):
        services.model_save(instance=obj, user=request.user)

    def save_model(self, request, obj, form, change):
        self.save_service(request, obj, form, change)

    def expected_version(self, form, change) -> int | None:
        return form.cleaned_data.get("loaded_version") if change else None

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        return [*filters, retired_filter()] if self.retirable else filters

    def has_delete_permission(self, request, obj=None):
        if self.retirable:
            return False  # retired with a reason, never deleted
        return super().has_delete_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        if obj is not None and getattr(obj, "retired_at", None) is not None:
            return False  # a retired record is kept as it was: its page is read-only
        return super().has_change_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.retirable:
            actions.pop("delete_selected", None)
            if self.has_change_permission(request):
                actions["retire_selected"] = self.get_action(retire_selected)
        return actions

    def run_row_action(self, request, queryset, *, step, form_class, verb):
        """An intermediate page (a reason or a note), then `step(record, **form data)` for each selected record;
        refusals are reported per record and change nothing."""
        form = form_class(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done, refused = 0, []
            for record in queryset.order_by("pk"):
                try:
                    step(record, **form.cleaned_data)
                except (PermissionDenied, ValidationError) as exc:
                    reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                    refused.append(f"{record}: {reason}")
                else:
                    done += 1
            if done:
                self.message_user(
                    request, f"{verb.capitalize()}: {done} {self.model._meta.verbose_name}(s) done.", messages.SUCCESS
                )
            for refusal in refused:
                self.message_user(request, f"Not done ({verb}) — {refusal}", messages.ERROR)
            return None  # back to the list
        context = {
            **self.admin_site.each_context(request),
            "title": f"{verb.capitalize()} {queryset.count()} {self.model._meta.verbose_name_plural}",
            "verb": verb,
            "form": form,
            "records": queryset.order_by("pk"),
            "action": request.POST.get("action", ""),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/agreements/row_action.html", context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Forms catch bad input before saving; this catches what only the locked save can see (a concurrent edit
        # landing between validation and save), so the user gets a message instead of an error page. The admin's
        # own transaction has already rolled back the whole save.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        except Refused as exc:
            # A rule of the services refused the save (e.g. re-flagging verified evidence): say which, keep the page.
            self.message_user(request, str(exc) or "You may not make this change.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class AliasInline(admin.TabularInline):
    extra = 1
    fields = ["name", "language"]
