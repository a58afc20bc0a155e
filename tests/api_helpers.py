"""Shared helpers for the REST API tests: one user per role, a token per user, clients that send it.

A test module declares the fixture itself (`@pytest.fixture def api(db): return Api()`), so no fixture is imported.
"""

from __future__ import annotations

import json

from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from compliance.tokens import token_issue
from tests.factories import UserFactory

ROLES = ("monitor", "reviewer", "analyst", "admin")


class Api:
    """Users per role (groups from agreements/migrations/0002_roles.py, no is_staff) and token clients for them."""

    def __init__(self):
        self._users = {}

    def user(self, role: str, name: str | None = None):
        """The user `name` (default: the role's own user) in the group `role`; created once."""
        username = name or role
        if username not in self._users:
            user = UserFactory(username=username)
            user.groups.add(Group.objects.get(name=role))
            self._users[username] = user
        return self._users[username]

    def client(self, role: str | None = None, *, name: str | None = None, read_only: bool = False) -> APIClient:
        """A client authenticated with a fresh token of the role's user; `role=None` is anonymous."""
        client = APIClient()
        if role is not None:
            _, key = token_issue(user=self.user(role, name), name=f"{role} token", read_only=read_only)
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    @property
    def anonymous(self) -> APIClient:
        return APIClient()


def assert_error(response, status: int, *, code: str | None = None, fields: set[str] | None = None) -> dict:
    """The response has `status` and the one error shape; returns the error object."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    body = json.loads(response.content)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["fields"], dict), error
    if code is not None:
        assert error["code"] == code, error
    if fields is not None:
        assert fields <= set(error["fields"]), error
    return error


def count_queries(call) -> tuple[object, list[str]]:
    """Run `call()`; return its result and the SQL of the queries it ran."""
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return result, [query["sql"] for query in captured.captured_queries]


def results(response) -> list[dict]:
    assert response.status_code == 200, (response.status_code, response.content[:500])
    return response.json()["results"]


def all_pages(client, url: str, params: dict | None = None) -> list[list[dict]]:
    """Every page of a cursor-paginated list, following `next`."""
    pages = []
    response = client.get(url, params or {})
    while True:
        pages.append(results(response))
        next_url = response.json()["next"]
        if not next_url:
            return pages
        response = client.get(next_url)
