"""The admin's To-do page: violations waiting for review (longest-waiting first), clauses past their deadline without
evidence of fulfilment (`reports.deadlines`: the compliance engine's deadline rule, the one the compliance endpoint
and the reports use), and likely duplicates, which a reviewer can merge from here
(`agreements.services.violation_merge`).

It lives in `reports` because the overdue list is the engine's: `reports` reads `agreements`, never the reverse.

URLs: `admin:agreements_todo` (/admin/agreements/todo/, needs "view violation") and `admin:agreements_todo_merge`
(POST only, needs "review violation"). Listed under the app on the admin index (see `agreements.admin.pages`).
"""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from agreements.admin.pages import add_page
from agreements.duplicates import duplicate_pairs
from agreements.models import Violation
from agreements.selectors import violations_awaiting_review
from agreements.services import permissions, violation_merge
from reports.deadlines import overdue_clauses

VIEW_PERMISSION = permissions.VIEW_VIOLATION
REVIEW_PERMISSION = permissions.REVIEW_VIOLATION
LIST_LIMIT = 200


def todo_view(request):
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied("The to-do list needs the permission to view violations.")
    awaiting = violations_awaiting_review()
    context = {
        **admin.site.each_context(request),
        "title": "To do",
        "opts": Violation._meta,
        "awaiting": list(awaiting[:LIST_LIMIT]),
        "awaiting_count": awaiting.count(),
        "list_limit": LIST_LIMIT,
        "overdue": overdue_clauses(),
        "pairs": duplicate_pairs(limit=LIST_LIMIT),
        "can_merge": request.user.has_perm(REVIEW_PERMISSION),
    }
    return TemplateResponse(request, "admin/reports/todo.html", context)


def _violation(value: str) -> Violation:
    try:
        public_id = uuid.UUID(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{value!r} is not a violation id.") from None
    return get_object_or_404(Violation, uuid=public_id)


def merge_view(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not request.user.has_perm(REVIEW_PERMISSION):
        raise PermissionDenied("Only reviewers merge duplicates.")
    todo = reverse("admin:agreements_todo")
    keep_id, _, duplicate_id = request.POST.get("merge", "").partition(":")
    try:
        keep, duplicate = _violation(keep_id), _violation(duplicate_id)
        violation_merge(keep=keep, duplicate=duplicate, user=request.user, note=request.POST.get("note", ""))
    except ValidationError as exc:
        messages.error(request, "Not merged: " + " ".join(exc.messages))
        return HttpResponseRedirect(todo)
    change = reverse("admin:agreements_violation_change", args=[keep.pk])
    messages.success(
        request,
        format_html('Merged {} into <a href="{}">{}</a>; the duplicate is retracted.', duplicate.uuid, change, keep),
    )
    return HttpResponseRedirect(todo)


add_page("agreements/todo/", todo_view, "agreements_todo", title="To do", permission=VIEW_PERMISSION)
add_page("agreements/todo/merge/", merge_view, "agreements_todo_merge")
