"""The one format of the API's entity tags.

- A record with a version (violations, places, zones, clauses): `"<name>.v<version>.c<counter>"`, where `name` is
  the violation's public id or `<model>-<id>`, and `counter` is the record's change counter
  (`compliance.freshness`). The version is what If-Match checks (an edit must name the version it read); the
  counter makes a cached copy stale when anything the answer embeds changed (a renamed actor, place or source).
  If-Match also takes the tag without its counter.
- Anything else (lists, statistics, compliance): an opaque hash of what the answer depends on (`answer_etag`).
"""

import hashlib
import re

from django.utils.http import parse_etags, quote_etag


def record_etag(name: str, version: int, counter: str | None = None) -> str:
    tag = f"{name}.v{version}"
    return quote_etag(tag if counter is None else f"{tag}.c{counter}")


def etag_version(header: str, name: str) -> int | None:
    """The version an If-Match header names for this record, or None when it names none of its versions."""
    pattern = re.compile(rf"{re.escape(name)}\.v(\d{{1,19}})(?:\.c[0-9p]+)?")
    for tag in parse_etags(header):
        match = pattern.fullmatch(tag.strip('"'))
        if match:
            return int(match.group(1))
    return None


def answer_etag(*parts: object) -> str:
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode())
    return quote_etag(digest.hexdigest()[:32])


def matches(request, etag: str) -> bool:
    header = request.headers.get("If-None-Match", "")
    return header.strip() == "*" or etag in parse_etags(header)
