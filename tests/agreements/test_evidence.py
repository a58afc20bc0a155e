"""Sources and their archived copies (agreements/evidence.py): accepted types (by extension and by content), the
size limit, the SHA-256 computed on upload, the admin upload, staff-only download, and reuse by autocomplete."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agreements import evidence
from agreements.models import Source
from tests.agreements.test_workflow import member
from tests.factories import SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
HTML = "<!doctype html><html><body><p>Shelling reported in Kafr Nabudah — ٢٠١٩</p></body></html>".encode()
EXE = b"MZ\x90\x00" + b"\x00" * 60


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def stored_files(media) -> list:
    return [path for path in media.rglob("*") if path.is_file()]


# --- what is accepted ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content"),
    [("report.pdf", PDF), ("photo.PNG", PNG), ("photo.jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 16),
     ("page.html", HTML), ("notes.txt", b"Plain notes."), ("anim.gif", b"GIF89a" + b"\x00" * 8)],
)  # fmt: skip
def test_allowed_files_pass_and_their_sha256_is_returned(name, content):
    assert evidence.check_upload(upload(name, content)) == hashlib.sha256(content).hexdigest()


def test_a_disallowed_extension_is_refused_naming_the_allowed_ones():
    with pytest.raises(ValidationError) as refused:
        evidence.check_upload(upload("tool.exe", EXE))
    message = refused.value.messages[0]
    assert message.startswith("file type .exe is not allowed; allowed: .pdf, .png")
    assert refused.value.code == "file_type"


def test_a_file_without_an_extension_is_refused():
    with pytest.raises(ValidationError, match="without an extension is not allowed"):
        evidence.check_upload(upload("report", PDF))


@pytest.mark.parametrize(
    ("name", "content"),
    [("report.pdf", EXE), ("photo.png", PDF), ("page.html", b"\x00\x01binary<"), ("notes.txt", b"\xff\xfe\x00bad")],
)
def test_content_that_is_not_what_the_extension_says_is_refused(name, content):
    with pytest.raises(ValidationError, match="does not contain what a") as refused:
        evidence.check_upload(upload(name, content))
    assert refused.value.code == "file_content"


def test_an_oversize_file_is_refused_with_both_sizes(settings):
    settings.SOURCE_FILE_MAX_BYTES = 1024
    with pytest.raises(ValidationError) as refused:
        evidence.check_upload(upload("report.pdf", PDF + b"0" * 2048))
    assert refused.value.messages == ["file is 2.1 KB; the limit is 1 KB."]
    assert refused.value.code == "file_size"


def test_the_default_limit_is_20_mb_and_the_message_says_so():
    big = upload("report.pdf", PDF)
    big.size = 25 * 1024 * 1024  # as the upload handler declares it
    with pytest.raises(ValidationError) as refused:
        evidence.check_upload(big)
    assert refused.value.messages == ["file is 25 MB; the limit is 20 MB."]


def test_a_file_bigger_than_it_declares_is_refused_when_read(settings):
    settings.SOURCE_FILE_MAX_BYTES = 100
    liar = upload("report.pdf", PDF + b"0" * 200)
    liar.size = 10
    with pytest.raises(ValidationError, match="over the limit of 100 bytes"):
        evidence.check_upload(liar)


def test_an_empty_file_is_refused():
    with pytest.raises(ValidationError, match="empty"):
        evidence.check_upload(upload("report.pdf", b""))


# --- source_save --------------------------------------------------------------------------------------------------


def test_source_save_stores_a_good_pdf_with_its_sha256(media):
    user = UserFactory()
    source = SourceFactory.build()

    evidence.source_save(source=source, user=user, upload=upload("un-report.pdf", PDF))

    row = Source.objects.get(pk=source.pk)
    assert row.sha256 == hashlib.sha256(PDF).hexdigest()
    assert row.archived_file.name.startswith("sources/") and row.archived_file.name.endswith(".pdf")
    with row.archived_file.open("rb") as handle:
        assert handle.read() == PDF
    assert row.history.first().history_user == user


def test_source_save_refuses_a_bad_file_and_stores_nothing(media):
    with pytest.raises(ValidationError):
        evidence.source_save(source=SourceFactory.build(), user=UserFactory(), upload=upload("x.exe", EXE))
    assert not Source.objects.exists()
    assert stored_files(media) == []


def test_source_save_without_an_upload_keeps_the_archived_copy(media):
    source = SourceFactory.build()
    evidence.source_save(source=source, user=UserFactory(), upload=upload("a.pdf", PDF))
    source.title = "Renamed"
    evidence.source_save(source=source, user=UserFactory())
    row = Source.objects.get(pk=source.pk)
    assert (row.title, row.sha256) == ("Renamed", hashlib.sha256(PDF).hexdigest())
    assert row.archived_file


# --- the admin ----------------------------------------------------------------------------------------------------


def source_form(**overrides) -> dict:
    data = {
        "publisher": "UN OCHA",
        "title": "Flash update 12",
        "url": "reliefweb.int/report/12",
        "published_on": "2019-05-10",
        "kind": Source.Kind.UN_REPORT,
        "reliability": "B",
        "credibility": "2",
        "sha256": "",
        "notes": "",
    }
    data.update(overrides)
    return data


def test_admin_upload_stores_the_file_and_its_sha256(client, superuser, media):
    client.force_login(superuser)
    response = client.post(reverse("admin:agreements_source_add"), source_form(archived_file=upload("flash.pdf", PDF)))
    assert response.status_code == 302, response.context and response.context["errors"]
    source = Source.objects.get()
    assert source.sha256 == hashlib.sha256(PDF).hexdigest()
    assert source.url == "https://reliefweb.int/report/12"
    assert source.grade == "B2"
    assert source.history.first().history_user == superuser
    page = client.get(reverse("admin:agreements_source_change", args=[source.pk])).content.decode()
    assert reverse("source-file", args=[source.archived_file.name.removeprefix("sources/")]) in page


def test_admin_upload_of_a_wrong_type_is_refused_on_the_field(client, superuser, media):
    client.force_login(superuser)
    response = client.post(reverse("admin:agreements_source_add"), source_form(archived_file=upload("x.exe", EXE)))
    assert response.status_code == 200
    assert "file type .exe is not allowed" in str(response.context["adminform"].form.errors["archived_file"])
    assert not Source.objects.exists()
    assert stored_files(media) == []


def test_admin_upload_of_an_oversize_file_is_refused(client, superuser, settings, media):
    settings.SOURCE_FILE_MAX_BYTES = 64
    client.force_login(superuser)
    response = client.post(reverse("admin:agreements_source_add"), source_form(archived_file=upload("a.pdf", PDF)))
    assert response.status_code == 200
    assert "the limit is 64 bytes" in str(response.context["adminform"].form.errors["archived_file"])
    assert not Source.objects.exists()


def test_sources_are_reused_by_autocomplete_showing_their_grade(client, db):
    SourceFactory(publisher="SOHR", title="Barrel bombs on Kafr Nabudah", reliability="C", credibility=3)
    client.force_login(member("monitor", is_staff=True))
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "agreements", "model_name": "violationsource", "field_name": "source", "term": "Nabudah"},
    )
    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == ["SOHR: Barrel bombs on Kafr Nabudah [C3]"]


# --- serving the archived copy ------------------------------------------------------------------------------------


@pytest.fixture
def archived(db):
    source = SourceFactory.build()
    evidence.source_save(source=source, user=UserFactory(), upload=upload("un-report.pdf", PDF))
    return source


def file_url(source: Source) -> str:
    return reverse("source-file", args=[source.archived_file.name.removeprefix("sources/")])


def test_staff_download_the_archived_copy(client, archived):
    client.force_login(member("analyst", is_staff=True))
    response = client.get(file_url(archived))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_an_archived_page_is_downloaded_in_a_sandbox_never_shown_on_our_origin(client, db):
    source = SourceFactory.build()
    evidence.source_save(source=source, user=UserFactory(), upload=upload("page.html", HTML))
    client.force_login(member("analyst", is_staff=True))
    response = client.get(file_url(source))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Security-Policy"] == "sandbox"


def test_non_staff_cannot_download(client, archived):
    client.force_login(member("analyst"))  # the role, but no admin access
    assert client.get(file_url(archived)).status_code == 403


def test_staff_without_the_view_permission_cannot_download(client, archived):
    client.force_login(UserFactory(username="bare-staff", is_staff=True))
    assert client.get(file_url(archived)).status_code == 403


def test_anonymous_is_sent_to_log_in(client, archived):
    response = client.get(file_url(archived))
    assert response.status_code == 302
    assert "login" in response["Location"]


@pytest.mark.parametrize("path", ["2019/05/other.pdf", "../../compliance/settings.py", "..%2F..%2Fmanage.py"])
def test_only_files_a_source_names_are_served(client, archived, path):
    client.force_login(member("analyst", is_staff=True))
    assert client.get(f"/media/sources/{path}").status_code == 404


def test_there_is_no_public_media_url(client, archived, media):
    (media / "elsewhere.pdf").write_bytes(PDF)
    client.force_login(member("analyst", is_staff=True))
    assert client.get("/media/elsewhere.pdf").status_code == 404
    assert client.get(f"/static/../media/{archived.archived_file.name}").status_code == 404
