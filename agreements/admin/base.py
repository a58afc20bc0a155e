from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponseRedirect
from simple_history.admin import SimpleHistoryAdmin

from agreements import services


class RecordAdmin(SimpleHistoryAdmin):
    """Saves through a service and shows the change history of every record.

    Subclasses name their service in `save_service`; the default validates, saves and attributes the change.
    """

    list_per_page = 50
    save_on_top = True
    # Sources are pasted without a scheme as often as with one; assume https (Django 6's default).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_service(self, request, obj, form, change):
        services.record_save(instance=obj, user=request.user)

    def save_model(self, request, obj, form, change):
        self.save_service(request, obj, form, change)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Forms catch bad input before saving; this catches what only the locked save can see (a concurrent edit
        # landing between validation and save), so the user gets a message instead of an error page. The admin's
        # own transaction has already rolled back the whole save.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class AliasInline(admin.TabularInline):
    extra = 1
    fields = ["name", "language"]
