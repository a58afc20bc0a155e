from django import forms
from django.contrib import admin, messages

from compliance.models import ApiToken
from compliance.tokens import MAX_EXPIRES_IN_DAYS, token_issue, token_revoke


class ApiTokenAddForm(forms.ModelForm):
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_EXPIRES_IN_DAYS,
        help_text="Leave empty for a token that does not expire.",
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "read_only"]

    def clean_user(self):
        user = self.cleaned_data["user"]
        if user is not None and not user.is_active:
            raise forms.ValidationError("This user is inactive; a token for them would not authenticate.")
        return user


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued here (the key is shown once, in a message) and revoked, never edited or deleted."""

    list_display = [
        "name",
        "user",
        "issued_by",
        "key_prefix",
        "read_only",
        "active",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["read_only", RevokedFilter]
    list_select_related = ["user", "issued_by"]
    search_fields = ["name", "user__username", "key_prefix", "issued_by__username"]
    autocomplete_fields = ["user"]
    actions = ["revoke_selected"]
    fields = [
        "user",
        "issued_by",
        "name",
        "key_prefix",
        "read_only",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    readonly_fields = fields
    add_form = ApiTokenAddForm
    add_fieldsets = [
        (
            None,
            {
                "fields": ["user", "name", "read_only", "expires_in_days"],
                "description": "The key is shown once, after saving. Copy it then: it is not stored.",
            },
        )
    ]

    @admin.display(boolean=True)
    def active(self, obj):
        return obj.is_active

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row is the record that the token existed

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only; there is nothing to save.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            return  # read-only once issued
        token, key = token_issue(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            read_only=form.cleaned_data["read_only"],
            expires_in_days=form.cleaned_data.get("expires_in_days"),
            issued_by=request.user,
        )
        # The admin goes on with `obj` (history log, redirect): make it the row just written.
        for field in ApiToken._meta.concrete_fields:
            setattr(obj, field.attname, getattr(token, field.attname))
        obj._state.adding = False
        obj._state.db = token._state.db
        self.message_user(
            request,
            f"Token “{token}” issued. Its key, shown this once (copy it now, it is not stored): {key}",
            messages.SUCCESS,
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_selected(self, request, queryset):
        selected = list(queryset)
        to_revoke = [token for token in selected if token.revoked_at is None]
        for token in to_revoke:
            token_revoke(token=token, user=request.user)
        message = f"Revoked {len(to_revoke)} token(s)."
        if len(selected) > len(to_revoke):
            message += f" {len(selected) - len(to_revoke)} were already revoked."
        self.message_user(request, message, messages.SUCCESS)


# Registers the background jobs' admin (kept beside the rest of compliance/jobs/).
import compliance.jobs.admin  # noqa: E402, F401
