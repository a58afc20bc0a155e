"""One matrix of who may do what to a violation, asked through BOTH faces — the REST API and the admin (the real
change form, the real actions) — with the same expected answer. The rules live in agreements/services/permissions.py;
a face that decided differently would show here as one face allowing what the other refuses.

Rows: anonymous, a read-only token (a monitor's), analyst, monitor (the reporter), another monitor, reviewer,
admin. Columns: read, create, edit own, edit another's, edit a verified one, verify, retract another's, delete,
export. Delete is nobody's (violations are retracted). The admin has no read-only tokens and no export: those cells
are asked of the API alone.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework.test import APIClient

from agreements import services
from agreements.models import Violation
from compliance.tokens import token_issue
from tests.agreements.test_history import violation_form
from tests.factories import ActorFactory, AgreementFactory, PlaceFactory, SourceFactory, UserFactory, make_violation

ROWS = ["anonymous", "read_only_token", "analyst", "monitor", "other_monitor", "reviewer", "admin"]
ACTIONS = ["read", "create", "edit_own", "edit_others", "edit_verified", "verify", "retract", "delete", "export"]

# What README's roles promise; True = allowed.
ALLOWED = {
    "anonymous": set(),
    "read_only_token": {"read", "export"},
    "analyst": {"read", "export"},
    "monitor": {"read", "create", "edit_own", "export"},
    "other_monitor": {"read", "create", "edit_own", "export"},
    "reviewer": {"read", "create", "edit_own", "edit_others", "edit_verified", "verify", "retract", "export"},
    "admin": {"read", "create", "edit_own", "edit_others", "edit_verified", "verify", "retract", "export"},
}
ROLE_OF = {"read_only_token": "monitor", "other_monitor": "monitor"}
API_ONLY_ROWS = {"read_only_token"}
API_ONLY_ACTIONS = {"export"}


class World:
    """The people and the violations each cell acts on, built once per test through the services."""

    def __init__(self):
        self.agreement = AgreementFactory()
        self.place = PlaceFactory()
        self.actor = ActorFactory()
        self.users = {}
        for row in ROWS[1:]:
            role = ROLE_OF.get(row, row)
            user = UserFactory(username=row, is_staff=True)
            user.groups.add(Group.objects.get(name=role))
            self.users[row] = user
        self.monitor = self.users["monitor"]
        self.second_reviewer = UserFactory(username="second_reviewer", role="reviewer")

    def violation(self, *, reporter=None, verified=False) -> Violation:
        violation = make_violation(
            user=reporter or self.monitor,
            agreement=self.agreement,
            place=self.place,
            perpetrators=[self.actor],
            sources=[SourceFactory()],
        )
        if verified:
            services.violation_verify(violation=violation, user=self.second_reviewer)
        return Violation.objects.get(pk=violation.pk)

    def own_violation(self, row) -> Violation:
        """A violation this row's user reported (for rows that cannot report, set as theirs directly)."""
        user = self.users.get(row)
        if user is not None and user.has_perm("agreements.add_violation"):
            return self.violation(reporter=user)
        violation = self.violation()
        if user is not None:
            Violation.objects.filter(pk=violation.pk).update(reported_by=user)
        return Violation.objects.get(pk=violation.pk)

    def target(self, row, action) -> Violation | None:
        if action in {"create"}:
            return None
        if action == "edit_own":
            return self.own_violation(row)
        if action == "edit_verified":
            return self.violation(verified=True)
        return self.violation()  # another's (the monitor's; for the monitor row, see api/admin helpers)


def _other_reporter(world, row):
    # "Another's" violation for the monitor row is the other monitor's.
    return world.users["other_monitor"] if row == "monitor" else world.monitor


def _target(world, row, action):
    if action in {"edit_others", "verify", "retract", "read", "delete", "export"}:
        return world.violation(reporter=_other_reporter(world, row))
    return world.target(row, action)


# --- the API ------------------------------------------------------------------------------------------------------


def api_client(world, row) -> APIClient:
    client = APIClient()
    if row != "anonymous":
        _, key = token_issue(user=world.users[row], name="matrix", read_only=row == "read_only_token")
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def api_allowed(world, row, action) -> bool:
    client = api_client(world, row)
    violation = _target(world, row, action)
    if action == "read":
        return client.get(f"/api/v1/violations/{violation.uuid}/").status_code == 200
    if action == "export":
        return client.get("/api/v1/violations/", {"format": "csv"}).status_code == 200
    if action == "create":
        before = Violation.objects.count()
        body = {
            "agreement": world.agreement.slug,
            "category": "shelling",
            "description": "Matrix entry.",
            "started_at": "2019-05-06T04:00:00Z",
            "place": world.place.pk,
            "perpetrators": [world.actor.pk],
            "new_sources": [{"source": SourceFactory().pk}],
        }
        response = client.post("/api/v1/violations/", body, format="json")
        created = Violation.objects.count() == before + 1
        assert created == (response.status_code == 201), (response.status_code, response.content[:300])
        return created
    if action in {"edit_own", "edit_others", "edit_verified"}:
        etag = f'"{violation.uuid}.v{violation.version}"'
        response = client.patch(
            f"/api/v1/violations/{violation.uuid}/",
            {"description": "Edited by the matrix."},
            format="json",
            HTTP_IF_MATCH=etag,
        )
        changed = Violation.objects.get(pk=violation.pk).description == "Edited by the matrix."
        assert changed == (response.status_code == 200), (response.status_code, response.content[:300])
        return changed
    if action in {"verify", "retract"}:
        body = {"reason": "Matrix."} if action == "retract" else {}
        response = client.post(f"/api/v1/violations/{violation.uuid}/{action}/", body, format="json")
        after = Violation.objects.get(pk=violation.pk)
        done = after.status == Violation.Status.VERIFIED if action == "verify" else after.is_retracted
        assert done == (response.status_code == 200), (response.status_code, response.content[:300])
        return done
    if action == "delete":
        response = client.delete(f"/api/v1/violations/{violation.uuid}/")
        gone = not Violation.objects.filter(pk=violation.pk).exists()
        assert response.status_code in {401, 403, 405}, response.status_code
        return gone
    raise AssertionError(action)


# --- the admin ----------------------------------------------------------------------------------------------------


def admin_client(client, world, row):
    if row != "anonymous":
        client.force_login(world.users[row])
    return client


def admin_allowed(client, world, row, action) -> bool:
    client = admin_client(client, world, row)
    violation = _target(world, row, action)
    changelist = reverse("admin:agreements_violation_changelist")
    if action == "read":
        return client.get(reverse("admin:agreements_violation_change", args=[violation.pk])).status_code == 200
    if action == "create":
        before = Violation.objects.count()
        template = world.violation()
        data = violation_form(template, loaded_version="", description="Matrix entry.")
        data.update(
            {
                "citations-TOTAL_FORMS": "1",
                "citations-0-source": SourceFactory().pk,
                "citations-0-note": "",
                # What the browser sends for the new-source fields left at their defaults.
                "citations-0-new_kind": "news_report",
                "citations-0-new_reliability": "F",
                "citations-0-new_credibility": "6",
            }
        )
        client.post(reverse("admin:agreements_violation_add"), data)
        return Violation.objects.count() == before + 2  # the template and the one entered
    if action in {"edit_own", "edit_others", "edit_verified"}:
        data = violation_form(violation, description="Edited by the matrix.")
        client.post(reverse("admin:agreements_violation_change", args=[violation.pk]), data)
        return Violation.objects.get(pk=violation.pk).description == "Edited by the matrix."
    if action in {"verify", "retract"}:
        form = {"reason": "Matrix."} if action == "retract" else {"note": ""}
        selected = [str(violation.pk)]
        client.post(changelist, {"action": f"{action}_selected", "_selected_action": selected, "index": 0})
        client.post(changelist, {"action": f"{action}_selected", "_selected_action": selected, "apply": "1", **form})
        after = Violation.objects.get(pk=violation.pk)
        return after.status == Violation.Status.VERIFIED if action == "verify" else after.is_retracted
    if action == "delete":
        response = client.post(reverse("admin:agreements_violation_delete", args=[violation.pk]), {"post": "yes"})
        assert response.status_code in {302, 403}, response.status_code  # anonymous: to the login page
        return not Violation.objects.filter(pk=violation.pk).exists()
    raise AssertionError(action)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("row", ROWS)
def test_the_api_and_the_admin_give_each_role_the_same_answer(db, client, row, action):
    world = World()
    expected = action in ALLOWED[row]
    assert api_allowed(world, row, action) == expected, f"API: {row} {action}"
    if row in API_ONLY_ROWS or action in API_ONLY_ACTIONS:
        return
    assert admin_allowed(client, world, row, action) == expected, f"admin: {row} {action}"
