import pytest

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
