"""Archived copies of sources: which files we accept, their SHA-256, and the one way a source is saved with one.

A file is accepted when its extension is one of ours AND its first bytes are what that extension promises (a .pdf
that is really an .exe is refused), and when it is within `settings.SOURCE_FILE_MAX_BYTES`. The SHA-256 is computed
while the upload is read in chunks and stored in `Source.sha256`, so anyone can later prove a copy is the one we
archived. Files are served to staff only (`agreements.views.source_file`), never from a public URL.
"""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction

from agreements import services
from agreements.models import Source

SNIFF_BYTES = 512


def _is_text(head: bytes) -> bool:
    """UTF-8 (or ASCII) text without NUL bytes; a multi-byte character cut at the end of `head` is fine."""
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _is_html(head: bytes) -> bool:
    return _is_text(head) and b"<" in head


@dataclass(frozen=True)
class FileType:
    description: str
    content_type: str
    matches: object  # (head: bytes) -> bool
    inline: bool  # shown in the browser; otherwise always downloaded (HTML could run scripts on our origin)


PDF = FileType("a PDF", "application/pdf", lambda head: head.startswith(b"%PDF-"), True)
PNG = FileType("a PNG image", "image/png", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"), True)
JPEG = FileType("a JPEG image", "image/jpeg", lambda head: head.startswith(b"\xff\xd8\xff"), True)
GIF = FileType("a GIF image", "image/gif", lambda head: head[:6] in (b"GIF87a", b"GIF89a"), True)
WEBP = FileType("a WebP image", "image/webp", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP", True)
HTML = FileType("an HTML page", "text/html", _is_html, False)
TEXT = FileType("plain text", "text/plain", _is_text, False)

ALLOWED_TYPES: dict[str, FileType] = {
    ".pdf": PDF,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".gif": GIF,
    ".webp": WEBP,
    ".html": HTML,
    ".htm": HTML,
    ".txt": TEXT,
}


def file_type(name: str) -> FileType | None:
    return ALLOWED_TYPES.get(PurePath(name).suffix.lower())


def human_size(size: int) -> str:
    """20971520 → "20 MB", 1536 → "1.5 KB" (binary units, as the limit is written)."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def check_upload(upload: File) -> str:
    """Refuse a file of the wrong type or size; return its SHA-256 (hex). Leaves the file at its start."""
    name = PurePath(upload.name or "").name
    suffix = PurePath(name).suffix.lower()
    kind = ALLOWED_TYPES.get(suffix)
    if kind is None:
        shown = suffix or "without an extension"
        raise ValidationError(
            f"file type {shown} is not allowed; allowed: {', '.join(ALLOWED_TYPES)}.", code="file_type"
        )
    limit = settings.SOURCE_FILE_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError(f"file is {human_size(upload.size)}; the limit is {human_size(limit)}.", code="file_size")
    digest, head, size = hashlib.sha256(), b"", 0
    upload.seek(0)
    for chunk in upload.chunks():
        size += len(chunk)
        if size > limit:  # the declared size can lie; what is read cannot
            upload.seek(0)
            raise ValidationError(f"file is over the limit of {human_size(limit)}.", code="file_size")
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        digest.update(chunk)
    upload.seek(0)
    if size == 0:
        raise ValidationError("file is empty.", code="file_empty")
    if not kind.matches(head):
        raise ValidationError(
            f"{name} does not contain what a {suffix} file should ({kind.description}); it was not stored.",
            code="file_content",
        )
    return digest.hexdigest()


@transaction.atomic
def source_save(*, source: Source, user, upload: File | None = None) -> Source:
    """Save a source (new or edited); with `upload`, check it, store it as the archived copy and record its SHA-256.

    Without an upload the archived file and the SHA-256 stay as they are (a SHA-256 may be typed in for a copy
    archived elsewhere).
    """
    if upload is not None:
        source.sha256 = check_upload(upload)
        source.archived_file = upload  # written to storage by the model save, after validation passed
    return services.model_save(instance=source, user=user)
