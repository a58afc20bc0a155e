"""The Content-Security-Policy in a real browser: the admin, Swagger UI and Redoc work under it, and the browser
reports no refused script or style of ours. A header test cannot show this; only a browser enforces the policy."""

import shutil
from pathlib import Path

import pytest

from tests.factories import UserFactory

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PASSWORD = "pass-word-123"
# Redoc's sidebar shows the Redocly logo from their CDN; the policy refusing it is the policy working.
EXPECTED_REFUSALS = ("https://cdn.redoc.ly/",)

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not shutil.which("chromium"),
    reason="No Chromium at /usr/bin/chromium: install Debian's chromium package (.ci/run does).",
)


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls in the test are safe beside it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.refusals = []

        def on_console(message):
            text = message.text
            if "Content Security Policy" in text and not any(url in text for url in EXPECTED_REFUSALS):
                page.refusals.append(text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: page.refusals.append(f"page error: {error}"))
        yield page
        browser.close()


def visit(page, url, ready):
    page.goto(url)
    page.wait_for_selector(ready, timeout=20_000)
    page.wait_for_timeout(300)  # late violations (styles applied after the first paint)
    assert page.refusals == [], (url, page.refusals)


def test_admin_swagger_ui_and_redoc_work_under_the_policy(transactional_db, live_server, page):
    user = UserFactory(username="admin-ada", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()

    visit(page, f"{live_server.url}/admin/login/", "#id_username")
    page.fill("#id_username", "admin-ada")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")

    # The violation form uses the admin's scripts (autocomplete, date pickers); the to-do page has its own styles.
    visit(page, f"{live_server.url}/admin/agreements/violation/add/", "#id_agreement + .select2")
    page.click("#id_agreement + .select2 .select2-selection")
    page.wait_for_selector(".select2-container--open .select2-search__field")
    assert page.refusals == []
    visit(page, f"{live_server.url}/admin/agreements/todo/", "#awaiting-review")

    visit(page, f"{live_server.url}/api/docs/", ".opblock")
    assert page.locator(".opblock").count() > 10
    visit(page, f"{live_server.url}/api/redoc/", "h1")
    assert "Treaty-compliance tracker API" in page.inner_text("h1")
    page.fill("input[placeholder='Search...']", "violations")
    page.wait_for_selector("[data-role='search:results'], .search-results, li[role='option']", timeout=10_000)
    assert page.refusals == []
