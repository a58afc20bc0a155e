import pytest

from tests.factories import UserFactory


@pytest.fixture
def user(db):
    return UserFactory(username="monitor1")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)
