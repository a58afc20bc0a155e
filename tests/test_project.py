import io
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import DatabaseError

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database(client, db):
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok"}


def test_readyz_answers_503_when_the_database_is_down(client, db):
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=DatabaseError("down")):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "database_unavailable"


def test_settings_refuse_to_start_without_a_secret_key_when_debug_is_off():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**env, "DJANGO_SETTINGS_MODULE": "compliance.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_ensure_admin_generates_and_prints_a_password_once(db, monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    password = out.getvalue().rsplit("password: ", 1)[1].strip()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    assert admin.groups.filter(name="admin").exists()

    again = io.StringIO()
    call_command("ensure_admin", stdout=again)
    assert "password unchanged" in again.getvalue()
    admin.refresh_from_db()
    assert admin.check_password(password)


def test_ensure_admin_takes_the_password_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-demo-password")
    call_command("ensure_admin", stdout=io.StringIO())
    assert get_user_model().objects.get(username="admin").check_password("a-long-demo-password")


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (
            "monitor",
            ["add_violation", "change_violation", "add_source"],
            ["review_violation", "delete_violation", "change_clause"],
        ),
        ("reviewer", ["review_violation", "change_violation"], ["delete_violation", "change_agreement"]),
        ("analyst", ["view_violation", "view_clause"], ["add_violation", "change_violation"]),
        (
            "admin",
            ["change_agreement", "change_clause", "review_violation", "delete_actor"],
            ["delete_violation", "delete_clause", "delete_zone", "delete_source", "delete_patrol"],
        ),
    ],
)
def test_roles_are_created_with_their_permissions(db, role, allowed, refused):
    from django.contrib.auth.models import Group

    codenames = set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))
    assert set(allowed) <= codenames
    assert not set(refused) & codenames


@pytest.mark.parametrize("hash_seed", ["0", "1", "2", "3"])
def test_manage_py_names_the_missing_secret_key_whatever_check_runs_first(hash_seed):
    # Django's system checks run in set order, which varies with the hash seed; the message must not.
    env = {"PATH": os.environ["PATH"], "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "manage.py: SECRET_KEY must be set when DEBUG is off" in result.stderr
    assert "Models aren't loaded yet" not in result.stderr
