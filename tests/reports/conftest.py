import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Issued reports store their annex as a file: each test keeps its files to itself."""
    settings.MEDIA_ROOT = tmp_path / "media"
