import pytest
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations import RunPython
from pytest_django.plugin import blocking_manager_key

from tests.api_helpers import Api
from tests.factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory(username="monitor1", role="monitor")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def api(db) -> Api:
    """A user per role with a token each, for API tests; see tests/api_helpers.py."""
    return Api()


OUR_APPS = {"agreements", "reports", "compliance"}


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test's database starts from the same change counter, so answers cached by an earlier test (keyed by
    that counter) would be served to it; in production the counter only moves forward."""
    cache.clear()
    yield
    cache.clear()


def replay_role_migrations() -> None:
    """The roles (groups and their permissions) are data written by our migrations; a transactional test flushes
    them with everything else. Replays those data migrations, in migration order, on the flushed database."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    state_apps = executor.loader.project_state().apps
    for migration, _ in plan:
        if migration.app_label not in OUR_APPS:
            continue
        for operation in migration.operations:
            if isinstance(operation, RunPython):
                operation.code(state_apps, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After a test that really commits, the database is flushed in its teardown: the roles are put back then, once,
    so that whatever runs next finds them (tests that need them ask for groups by name)."""
    yield
    marker = item.get_closest_marker("django_db")
    flushed = {"transactional_db", "live_server"} & set(getattr(item, "fixturenames", ())) or (
        marker is not None and marker.kwargs.get("transaction")
    )
    if flushed:
        with item.config.stash[blocking_manager_key].unblock():
            replay_role_migrations()
