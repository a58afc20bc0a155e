"""Production settings, Content-Security-Policy, self-hosted API docs, API rate limits and the admin login lockout.

See docs/security.md for what each answers.
"""

import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.test import Client

from compliance.security import PLACEHOLDER_SECRET_KEYS, secret_key_problem
from reports.rendering import pdf
from tests.api_helpers import assert_error
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = secrets.token_urlsafe(64)


def env_example_secret_key() -> str:
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("SECRET_KEY="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(".env.example has no SECRET_KEY line")


# Set by the suite (pyproject.toml, the browser tests) and not to be inherited by a process that checks settings:
# Django's deploy check warns about DJANGO_ALLOW_ASYNC_UNSAFE.
NOT_INHERITED = {"SECRET_KEY", "DEBUG", "DJANGO_ENV", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}


def run_manage(*args, **env):
    """`manage.py ARGS` in a fresh process with the given settings variables instead of the suite's."""
    base = clean_env()
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- production settings -------------------------------------------------------------------------------------


def test_check_deploy_passes_in_production_with_a_strong_key():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_ENV="production", SECRET_KEY=STRONG_KEY)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_without_the_production_switch():
    # The same key without DJANGO_ENV: development settings, which the deploy check must not pass.
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=STRONG_KEY, DEBUG="0")
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008"):
        assert warning in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECRET_KEY": "placeholder"}, "is a placeholder"),  # replaced by .env.example's value below
        ({"SECRET_KEY": "short-but-random-Zq8x"}, "needs at least 50"),
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": STRONG_KEY, "DEBUG": "1"}, "DEBUG must be off"),
        ({"SECRET_KEY": STRONG_KEY, "DJANGO_ENV": "prod"}, "DJANGO_ENV must be 'production' or 'development'"),
    ],
    ids=["env-example-key", "short-key", "no-key", "debug-on", "unknown-env"],
)
def test_production_refuses_to_start_with_weak_settings(env, message):
    env = {"DJANGO_ENV": "production", **env}
    if env["SECRET_KEY"] == "placeholder":
        env["SECRET_KEY"] = env_example_secret_key()
    result = run_manage("check", "--deploy", **env)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


@pytest.mark.parametrize(
    "key",
    [
        "",
        "change-me-to-a-long-random-string",
        "this-is-an-example-key-" + "k" * 40 + "Zq8xW2",
        "PLEASE-CHANGE-ME-" + secrets.token_urlsafe(48),
        "django-insecure-" + secrets.token_urlsafe(48),
        secrets.token_urlsafe(30),  # 40 characters
        "ab" * 30,  # long, but two characters
    ],
)
def test_weak_secret_keys_are_named(key):
    assert secret_key_problem(key) is not None


def test_env_example_key_is_a_known_placeholder_and_a_generated_key_passes():
    assert env_example_secret_key() in PLACEHOLDER_SECRET_KEYS
    assert secret_key_problem(env_example_secret_key()) is not None
    assert secret_key_problem(STRONG_KEY) is None


PROBE = """
import json
import django
django.setup()
from django.conf import settings
from django.test import Client

client = Client()
plain = client.get("/admin/login/")
probe = client.get("/healthz")
https = client.get("/admin/login/", headers={"X-Forwarded-Proto": "https"})
print(json.dumps({
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location"),
    "probe_status": probe.status_code,
    "hsts": https.get("Strict-Transport-Security"),
    "csrf_cookie_secure": https.cookies["csrftoken"]["secure"],
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
}))
"""


def probe_production(**env):
    base = clean_env()
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "compliance.settings",
            "DJANGO_ENV": "production",
            "SECRET_KEY": STRONG_KEY,
            "ALLOWED_HOSTS": "testserver",
            **env,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_redirects_to_https_and_sends_hsts_and_secure_cookies():
    # SECURE_COOKIES=0 (meant for docker compose on http://localhost) must not weaken production.
    seen = probe_production(SECURE_COOKIES="0")
    assert seen["plain_status"] == 301
    assert seen["plain_location"] == "https://testserver/admin/login/"
    assert seen["probe_status"] == 200  # the container's healthcheck calls http://127.0.0.1:8000/healthz
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert seen["csrf_cookie_secure"] is True
    assert seen["session_cookie_secure"] is True


def test_production_https_settings_are_configurable():
    seen = probe_production(
        SECURE_HSTS_SECONDS="3600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
        SECURE_HSTS_PRELOAD="0",
        SECURE_SSL_REDIRECT="0",
    )
    assert seen["plain_status"] == 200
    assert seen["hsts"] == "max-age=3600"


# --- Content-Security-Policy ---------------------------------------------------------------------------------


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_strict(directives):
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["style-src"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_csp_on_the_admin_login_page_the_docs_and_the_api(api):
    login = Client().get("/admin/login/")
    assert login.status_code == 200
    assert_strict(policy(login))

    docs = Client().get("/api/docs/")
    assert docs.status_code == 200
    assert_strict(policy(docs))

    listing = api.client("analyst").get("/api/v1/agreements/")
    assert listing.status_code == 200
    assert_strict(policy(listing))

    refused = api.anonymous.get("/api/v1/agreements/")
    assert refused.status_code == 401
    assert_strict(policy(refused))


@pytest.mark.django_db
def test_csp_lets_redoc_insert_styles_but_not_scripts():
    directives = policy(Client().get("/api/redoc/"))
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in directives["style-src"]
    assert directives["worker-src"] == ["'self'", "blob:"]


def test_admin_pages_own_styles_carry_the_nonce(admin_client):
    response = admin_client.get("/admin/agreements/todo/")
    assert response.status_code == 200
    nonce = re.search(r'<style nonce="([^"]+)">', response.content.decode()).group(1)
    assert f"'nonce-{nonce}'" in policy(response)["style-src"]
    # A nonce is used once: the next page gets another.
    again = re.search(r'<style nonce="([^"]+)">', admin_client.get("/admin/agreements/todo/").content.decode())
    assert again.group(1) != nonce


# --- API docs from our own static files ----------------------------------------------------------------------

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


def assets(html: str) -> list[str]:
    return ASSET.findall(html)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_nothing_from_another_host(path):
    response = Client().get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assert not re.search(r"https?://", html), re.findall(r"https?://\S+", html)
    urls = assets(html)
    assert any(url.startswith("/static/drf_spectacular_sidecar/") for url in urls), urls
    for url in urls:
        assert not urlsplit(url).netloc and url.startswith("/"), url


@pytest.mark.django_db
def test_swagger_ui_start_script_is_a_same_origin_file():
    page = Client().get("/api/docs/").content.decode()
    assert "<script>" not in page  # nothing inline for the CSP to refuse
    script_url = next(url for url in assets(page) if "script=" in url)
    script = Client().get(script_url.replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
    assert '"/api/schema/"' in script.content.decode()
    assert script["Cross-Origin-Resource-Policy"] == "same-origin"


@pytest.mark.django_db
def test_docs_static_files_are_found_and_served(settings):
    pages = Client().get("/api/docs/").content.decode() + Client().get("/api/redoc/").content.decode()
    static = sorted({url for url in assets(pages) if url.startswith("/static/")})
    assert len(static) >= 5, static  # Swagger UI's css, two scripts, favicon, our css; Redoc's script
    # Whitenoise serves collected files in production; here it finds them in the apps, as `collectstatic` will.
    settings.WHITENOISE_USE_FINDERS = True
    client = Client()
    for url in static:
        relative = url.removeprefix("/static/")
        assert finders.find(relative), relative
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content)
        assert len(body) > 50, url


# --- API throttling --------------------------------------------------------------------------------------------


@pytest.fixture
def rates(settings):
    """Lower rates for one test, on an empty cache (the suite runs with high rates; see pyproject.toml)."""

    def set_rates(**scopes):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"anon": "1000/min", "user": "1000/min", "write": "1000/min", **scopes},
        }

    cache.clear()
    yield set_rates
    cache.clear()


def assert_throttled(response, *, json=True):
    if json:
        assert_error(response, 429, code="throttled")
    else:
        assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Content-Security-Policy" in response


@pytest.mark.django_db
def test_anonymous_requests_past_the_rate_get_429(rates):
    rates(anon="3/min")
    client = Client()
    for _ in range(3):
        assert client.get("/api/schema/", {"format": "json"}).status_code == 200
    assert_throttled(client.get("/api/schema/", {"format": "json"}))
    assert_throttled(client.get("/api/docs/"), json=False)  # an HTML page: a plain 429, still with Retry-After
    # Another address has its own budget.
    assert client.get("/api/docs/", REMOTE_ADDR="192.0.2.20").status_code == 200


@pytest.mark.django_db
def test_user_rate_counts_every_token_of_the_user(api, rates):
    rates(user="4/min")
    first, second = api.client("analyst"), api.client("analyst")
    for client in (first, second, first, second):
        assert client.get("/api/v1/actors/").status_code == 200
    assert_throttled(first.get("/api/v1/actors/"))
    assert_throttled(second.get("/api/v1/actors/"))
    assert api.client("reviewer").get("/api/v1/actors/").status_code == 200


@pytest.mark.django_db
def test_writes_have_their_own_stricter_limit(api, rates):
    rates(user="100/min", write="2/min")
    monitor = api.client("monitor")
    for _ in range(2):
        assert monitor.post("/api/v1/violations/", {}, format="json").status_code == 400
    assert_throttled(monitor.post("/api/v1/violations/", {}, format="json"))
    # Reading goes on under the user rate.
    assert monitor.get("/api/v1/violations/").status_code == 200


@pytest.mark.django_db
def test_bad_tokens_from_one_address_end_in_429(api, rates):
    rates(anon="5/min")
    guesser = Client(HTTP_AUTHORIZATION="Token not-a-real-key")
    for _ in range(5):
        assert_error(guesser.get("/api/v1/agreements/"), 401)
    assert_throttled(guesser.get("/api/v1/agreements/"))
    assert_throttled(guesser.get("/api/v1/agreements/", HTTP_AUTHORIZATION="Token"))  # malformed counts too
    # Other addresses are unaffected, and a real token from the same address still works.
    assert_error(guesser.get("/api/v1/agreements/", REMOTE_ADDR="192.0.2.30"), 401)
    assert api.client("analyst").get("/api/v1/agreements/").status_code == 200


@pytest.mark.django_db
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(rates, settings):
    rates(anon="2/min")
    client = Client()
    for n in range(2):
        assert client.get("/api/docs/", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code == 200
    # A client picking a new X-Forwarded-For each time is still one address.
    assert_throttled(client.get("/api/docs/", HTTP_X_FORWARDED_FOR="203.0.113.99"), json=False)

    # Behind one proxy of ours, the address it appended is the client's.
    settings.TRUSTED_PROXY_COUNT = 1
    assert client.get("/api/docs/", HTTP_X_FORWARDED_FOR="spoofed, 203.0.113.99").status_code == 200
    assert client.get("/api/docs/", HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 200
    assert_throttled(client.get("/api/docs/", HTTP_X_FORWARDED_FOR="other-spoof, 203.0.113.99"), json=False)


# --- admin login lockout -------------------------------------------------------------------------------------

PASSWORD = "the-right-pass-word-1"


@pytest.fixture
def staff(db):
    user = UserFactory(username="clerk", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(client, password, username="clerk", **extra):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, **extra)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_admin_login_locks_out_after_repeated_failures(staff, settings):
    assert settings.AXES_FAILURE_LIMIT == 10
    client = Client()
    for attempt in range(1, 31):
        response = log_in(client, f"wrong-{attempt}")
        assert not logged_in(client)
        if attempt < 10:
            assert response.status_code == 200  # the form again, with its error
            assert "Please enter the correct username and password" in response.content.decode()
        else:
            assert response.status_code == 429, attempt

    response = log_in(client, PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)
    page = response.content.decode()
    assert "Login locked" in page and "“clerk”" in page
    assert "Content-Security-Policy" in response
    assert client.get("/admin/").status_code == 302  # still sent to log in

    # The lock is on this username from this address: the same person from elsewhere still logs in.
    elsewhere = Client(REMOTE_ADDR="198.51.100.4")
    assert log_in(elsewhere, PASSWORD).status_code == 302 and logged_in(elsewhere)


def test_admin_lockout_ends_after_the_cool_off(staff, settings):
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, f"wrong-{attempt}")
    assert log_in(client, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=31))
    assert timedelta(minutes=30) == settings.AXES_COOLOFF_TIME
    assert log_in(client, PASSWORD).status_code == 302
    assert logged_in(client)


def test_a_successful_login_resets_the_count(staff, settings):
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, f"wrong-{attempt}")
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, f"again-{attempt}").status_code == 200
    assert log_in(client, PASSWORD).status_code == 302


def test_lockout_of_one_username_leaves_others_at_the_same_address(staff, settings):
    colleague = UserFactory(username="colleague", is_staff=True)
    colleague.set_password(PASSWORD)
    colleague.save()
    client = Client()
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, f"wrong-{attempt}")
    assert log_in(client, PASSWORD).status_code == 429
    assert log_in(client, PASSWORD, username="colleague").status_code == 302
    assert logged_in(client)


# --- nothing fetched on a document's say-so --------------------------------------------------------------------


def test_pdf_rendering_fetches_nothing_a_document_points_to(caplog):
    """The service fetches no URL that data names (API7): the one component that could, the PDF renderer, is held
    by a policy that refuses the network and any file outside its fonts."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(1)
    port = listener.getsockname()[1]
    html = (
        f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/x.css"></head>'
        f'<body><p>text</p><img src="http://127.0.0.1:{port}/probe.png"><img src="file:///etc/passwd"></body></html>'
    )
    result = pdf.pisa.CreatePDF(html, dest=io.BytesIO(), resource_policy=pdf._policy())
    try:
        with pytest.raises(TimeoutError):
            listener.accept()[0].close()
    finally:
        listener.close()
    assert not result.err  # the page is laid out, without what it pointed to
    assert "outside the directories this document may read" in caplog.text
