import hashlib
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.db.models import RestrictedError
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.models import ApiToken
from compliance.tokens import token_authenticate, token_issue, token_revoke
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def issue(user, **kwargs):
    kwargs.setdefault("name", "dashboard")
    return token_issue(user=user, **kwargs)


def expire(token):
    """Move a token's life into the past: issued two days ago, expired a second ago."""
    now = timezone.now()
    ApiToken.objects.filter(pk=token.pk).update(
        created_at=now - timedelta(days=2), expires_at=now - timedelta(seconds=1)
    )


def run_issue_token(*args):
    out = StringIO()
    call_command("issue_token", *args, stdout=out)
    return out.getvalue()


# --- storage ---------------------------------------------------------------------------------------------------


def test_key_is_never_stored_in_clear(user):
    token, key = issue(user)
    token.refresh_from_db()
    assert len(key) >= 40
    for field in ApiToken._meta.concrete_fields:
        assert getattr(token, field.attname) != key, field.name
        assert key not in str(getattr(token, field.attname)), field.name
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert token.key_prefix == key[:8]
    assert str(token) == f"dashboard ({key[:8]}…)"


def test_several_tokens_per_user(user):
    (first, key1), (second, key2) = issue(user, name="one"), issue(user, name="two")
    assert key1 != key2
    assert first.key_hash != second.key_hash
    assert set(user.api_tokens.values_list("name", flat=True)) == {"one", "two"}
    assert token_authenticate(key1) == first
    assert token_authenticate(key2) == second


def test_name_is_required(user):
    with pytest.raises(ValidationError) as exc:
        issue(user, name="  ")
    assert "name" in exc.value.message_dict
    assert not ApiToken.objects.exists()


def test_inactive_user_gets_no_token(user):
    user.is_active = False
    user.save()
    with pytest.raises(ValidationError):
        issue(user)


@pytest.mark.parametrize("days", [0, -1, 1.5, "3", True, 10**6])
def test_bad_expiry_is_refused(user, days):
    with pytest.raises(ValidationError):
        issue(user, expires_in_days=days)


def test_database_refuses_duplicate_hash_and_expiry_before_creation(user):
    token, _ = issue(user)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(user=user, name="copy", key_prefix="x", key_hash=token.key_hash)
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(
            user=user, name="x", key_prefix="x", key_hash="0" * 64, created_at=now, expires_at=now - timedelta(1)
        )


# --- authentication --------------------------------------------------------------------------------------------


def test_authenticate_valid_key(user):
    token, key = issue(user)
    found = token_authenticate(key)
    assert found == token
    assert found.user == user
    assert found.is_active


@pytest.mark.parametrize("key", ["", "nope", "x" * 43, "x" * 10_000, None, 42])
def test_authenticate_refuses_unknown_keys(user, key):
    issue(user)
    assert token_authenticate(key) is None


def test_authenticate_refuses_revoked(user, superuser):
    token, key = issue(user)
    token_revoke(token=token, user=superuser)
    assert token.revoked_at is not None
    assert not token.is_active
    assert token_authenticate(key) is None


def test_authenticate_refuses_expired(user):
    token, key = issue(user, expires_in_days=1)
    assert token_authenticate(key) is not None
    expire(token)
    assert token_authenticate(key) is None
    token.refresh_from_db()
    assert not token.is_active


def test_authenticate_refuses_inactive_user(user):
    _, key = issue(user)
    user.is_active = False
    user.save()
    assert token_authenticate(key) is None


def test_last_used_at_updated_at_most_once_a_minute(user, django_assert_num_queries):
    token, key = issue(user)
    assert token.last_used_at is None
    with django_assert_num_queries(2):  # lookup + update
        token_authenticate(key)
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    with django_assert_num_queries(1):  # lookup only: used less than a minute ago
        token_authenticate(key)
    token.refresh_from_db()
    assert token.last_used_at == first_use

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - timedelta(minutes=2))
    token_authenticate(key)
    token.refresh_from_db()
    assert token.last_used_at > first_use - timedelta(minutes=2)


def test_revoke_is_idempotent_and_keeps_the_row(user):
    token, _ = issue(user)
    token_revoke(token=token)
    first = token.revoked_at
    token_revoke(token=token)
    token.refresh_from_db()
    assert token.revoked_at == first
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_owner_may_revoke_own_token_but_not_others(user):
    token, _ = issue(user)
    other = UserFactory(username="stranger")
    with pytest.raises(PermissionDenied):
        token_revoke(token=token, user=other)
    token.refresh_from_db()
    assert token.revoked_at is None
    token_revoke(token=token, user=user)
    assert token.revoked_at is not None


# --- issue_token command ---------------------------------------------------------------------------------------


def test_issue_token_prints_key_alone_on_last_line(user):
    output = run_issue_token("monitor1")
    lines = output.splitlines()
    assert len(lines) >= 2
    key = lines[-1]
    assert key == key.strip() and " " not in key and len(key) >= 40
    assert key not in "\n".join(lines[:-1])
    token = token_authenticate(key)
    assert token is not None
    assert token.user == user
    assert not token.read_only
    assert token.expires_at is None
    assert token.name  # a default name


def test_issue_token_options_are_stored(user):
    before = timezone.now()
    key = run_issue_token("monitor1", "--read-only", "--name", "Grafana", "--expires-in-days", "30").splitlines()[-1]
    token = ApiToken.objects.get()
    assert token_authenticate(key) == token
    assert token.name == "Grafana"
    assert token.read_only
    assert before + timedelta(days=30) <= token.expires_at <= timezone.now() + timedelta(days=30)
    assert token.expires_at - token.created_at == timedelta(days=30)


def test_issue_token_unknown_user():
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        run_issue_token("ghost")
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("days", ["0", "-3", "abc", "1.5", "999999"])
def test_issue_token_bad_expiry(user, days):
    with pytest.raises(CommandError, match="expires-in-days"):
        run_issue_token("monitor1", "--expires-in-days", days)
    assert not ApiToken.objects.exists()


def test_issue_token_inactive_user(user):
    user.is_active = False
    user.save()
    with pytest.raises(CommandError, match="inactive"):
        run_issue_token("monitor1")


# --- HTTP ------------------------------------------------------------------------------------------------------

http = pytest.mark.urls("tests.token_urls")


def get(client_kwargs=None, path="/whoami"):
    return APIClient().get(path, **(client_kwargs or {}))


def auth(value):
    return {"HTTP_AUTHORIZATION": value}


@http
def test_http_valid_token(user):
    _, key = issue(user, read_only=True)
    response = get(auth(f"Token {key}"))
    assert response.status_code == 200
    assert response.json() == {"user": "monitor1", "read_only": True}


@http
def test_http_no_header_is_401_with_challenge(user):
    response = get()
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@http
def test_http_other_scheme_is_left_to_others(user):
    response = get(auth("Bearer abc"))
    assert response.status_code == 401  # anonymous, then refused by IsAuthenticated


@http
@pytest.mark.parametrize(
    "header",
    ["Token", "Token a b", "Token wrong-key-wrong-key-wrong-key-wrong-key", "Token ünïcode"],
)
def test_http_bad_header_or_key_is_401(user, header):
    issue(user)
    response = get(auth(header))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "token" in response.content.decode().lower()


@http
def test_http_wrong_key_message(user):
    response = get(auth("Token not-a-real-key"))
    assert response.status_code == 401
    assert "Invalid or expired token." in response.content.decode()


@http
def test_http_revoked_token_is_401(user):
    token, key = issue(user)
    assert get(auth(f"Token {key}")).status_code == 200
    token_revoke(token=token)
    assert get(auth(f"Token {key}")).status_code == 401


@http
def test_http_expired_token_is_401(user):
    token, key = issue(user, expires_in_days=1)
    expire(token)
    assert get(auth(f"Token {key}")).status_code == 401


@http
def test_http_read_only_token_cannot_write_even_where_the_view_allows_it(user):
    _, read_only_key = issue(user, read_only=True)
    _, key = issue(user, name="writer")
    client = APIClient()
    assert client.post("/whoami", {}, format="json", **auth(f"Token {read_only_key}")).status_code == 403
    assert client.post("/whoami", {}, format="json", **auth(f"Token {key}")).status_code == 200


@http
def test_http_token_requests_need_no_csrf(user):
    _, key = issue(user)
    client = APIClient(enforce_csrf_checks=True)
    assert client.post("/whoami", {}, format="json", **auth(f"Token {key}")).status_code == 200


def test_openapi_security_scheme():
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    from compliance.api.authentication import TokenAuthentication

    extension = OpenApiAuthenticationExtension.get_match(TokenAuthentication())
    assert extension.name == "tokenAuth"
    assert extension.get_security_definition(None) == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Token <key>",
    }


# --- admin -----------------------------------------------------------------------------------------------------

ADMIN = "/admin/compliance/apitoken/"


@pytest.fixture
def admin_client(superuser, client):
    client.force_login(superuser)
    return client


def test_admin_add_issues_token_and_shows_key_once(admin_client, user):
    form_page = admin_client.get(f"{ADMIN}add/")
    assert form_page.status_code == 200
    assert "expires_in_days" in form_page.content.decode()
    response = admin_client.post(
        f"{ADMIN}add/",
        {"user": user.pk, "name": "Dashboard", "read_only": "on", "expires_in_days": "7"},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get()
    assert token.name == "Dashboard" and token.read_only and token.user == user
    assert token.expires_at - token.created_at == timedelta(days=7)
    shown = [str(m) for m in response.context["messages"] if "shown this once" in str(m)]
    assert len(shown) == 1
    key = shown[0].rsplit(" ", 1)[-1]
    assert hashlib.sha256(key.encode()).hexdigest() == token.key_hash
    assert key in response.content.decode()
    assert token_authenticate(key) == token

    # Never again: not on the next page, not on the token's own page.
    assert key not in admin_client.get(ADMIN).content.decode()
    change_page = admin_client.get(f"{ADMIN}{token.pk}/change/").content.decode()
    assert key not in change_page
    assert token.key_prefix in change_page
    assert token.key_hash not in change_page


def test_admin_add_form_validates(admin_client, user):
    response = admin_client.post(f"{ADMIN}add/", {"user": user.pk, "name": "", "expires_in_days": "0"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.keys() == {"name", "expires_in_days"}
    assert not ApiToken.objects.exists()


def test_admin_change_page_saves_nothing(admin_client, user):
    token, key = issue(user)
    response = admin_client.post(f"{ADMIN}{token.pk}/change/", {"name": "renamed", "read_only": "on"})
    assert response.status_code in {200, 302}
    token.refresh_from_db()
    assert token.name == "dashboard" and not token.read_only
    assert token_authenticate(key) == token


def test_admin_revoke_action(admin_client, user):
    (first, key1), (second, key2), (kept, key3) = issue(user), issue(user), issue(user)
    response = admin_client.post(
        ADMIN, {"action": "revoke_selected", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "Revoked 2 token(s)." in response.content.decode()
    assert token_authenticate(key1) is None
    assert token_authenticate(key2) is None
    assert token_authenticate(key3) == kept
    assert ApiToken.objects.count() == 3


def test_admin_refuses_delete(admin_client, user):
    token, _ = issue(user)
    assert admin_client.get(f"{ADMIN}{token.pk}/delete/").status_code == 403
    assert admin_client.post(f"{ADMIN}{token.pk}/delete/", {"post": "yes"}).status_code == 403
    response = admin_client.post(ADMIN, {"action": "delete_selected", "_selected_action": [token.pk]})
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert response.status_code in {200, 302}


def test_admin_changelist_filters_and_search(admin_client, user):
    revoked, _ = issue(user, name="old")
    token_revoke(token=revoked)
    active, _ = issue(user, name="grafana")
    page = admin_client.get(ADMIN, {"revoked": "no"})
    assert list(page.context["cl"].queryset) == [active]
    page = admin_client.get(ADMIN, {"revoked": "yes"})
    assert list(page.context["cl"].queryset) == [revoked]
    page = admin_client.get(ADMIN, {"q": active.key_prefix})
    assert active in page.context["cl"].queryset
    page = admin_client.get(ADMIN, {"q": "monitor1"})
    assert set(page.context["cl"].queryset) == {active, revoked}


# --- who issued a token ----------------------------------------------------------------------------------------


def test_issue_records_the_issuer_apart_from_the_owner(user, superuser):
    token, _ = issue(user, issued_by=superuser)
    token.refresh_from_db()
    assert token.user == user
    assert token.issued_by == superuser
    assert list(superuser.api_tokens_issued.all()) == [token]
    assert issue(user)[0].issued_by is None


def test_admin_add_leaves_the_issuing_superusers_name_on_the_token(admin_client, superuser, user):
    admin_client.post(f"{ADMIN}add/", {"user": user.pk, "name": "Dashboard"})
    token = ApiToken.objects.get()
    assert token.user == user
    assert token.issued_by == superuser
    # Shown in the list, on the token's page, and searchable by the issuer's name.
    assert re.search(r'<td class="field-issued_by[^"]*">root</td>', admin_client.get(ADMIN).content.decode())
    change_page = admin_client.get(f"{ADMIN}{token.pk}/change/").content.decode()
    assert "Issued by:" in change_page
    assert re.search(r'<div class="readonly"><a href="[^"]+">root</a></div>', change_page)
    assert list(admin_client.get(ADMIN, {"q": "root"}).context["cl"].queryset) == [token]


def test_issue_token_command_records_issued_by(user, superuser):
    key = run_issue_token("monitor1", "--issued-by", "root").splitlines()[-1]
    token = token_authenticate(key)
    assert token.user == user and token.issued_by == superuser
    assert token_authenticate(run_issue_token("monitor1").splitlines()[-1]).issued_by is None


def test_issue_token_command_unknown_issuer(user):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        run_issue_token("monitor1", "--issued-by", "ghost")
    assert not ApiToken.objects.exists()


def test_an_issuer_of_others_tokens_cannot_be_deleted_but_self_issued_tokens_go_with_their_user(user, superuser):
    issued_for_other, _ = issue(user, issued_by=superuser)
    with pytest.raises(RestrictedError), transaction.atomic():
        superuser.delete()
    assert ApiToken.objects.filter(pk=issued_for_other.pk, issued_by=superuser).exists()

    loner = UserFactory(username="loner")
    own, _ = issue(loner, issued_by=loner)
    loner.delete()
    assert not ApiToken.objects.filter(pk=own.pk).exists()
