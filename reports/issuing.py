"""Issuing a compliance report: the document (`reports.document`) frozen in a `Report` row with the SHA-256 of its
canonical JSON, and its annex (every violation, CSV) stored beside it, its own SHA-256 inside the document.

Every rendering (PDF, HTML, CSV, XLSX, JSON, and the annex as CSV or XLSX) is made from the frozen copy, never from
the record again, so a report downloaded next year says exactly what it said when issued, and the hashes prove it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date

from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from agreements.models import Actor, Agreement
from reports.document import SCHEMA_VERSION, report_build
from reports.models import Report
from reports.rendering import FORMATS


def canonical_json(data: dict) -> str:
    """The one serialisation the hash is taken over: sorted keys, no spaces, UTF-8 text as is."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(data: dict) -> str:
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def report_issue(
    *,
    agreement: Agreement,
    start: date,
    end: date,
    actor: Actor | None = None,
    user,
    formats: list[str] | tuple[str, ...] | None = None,
) -> Report:
    """Build the report once, freeze its data with the SHA-256 of that data, and store who issued it and when.

    The hash identifies the content: issuing again while nothing in the record changed gives the same data, so
    the report already issued is returned (with its own issuer and time) instead of a second copy; see
    `report_get_or_issue` to tell the two apart. `formats` is what the issuer asked for, kept in the parameters;
    every format can be downloaded whatever it says.
    """
    return report_get_or_issue(agreement=agreement, start=start, end=end, actor=actor, user=user, formats=formats)[0]


def report_get_or_issue(
    *,
    agreement: Agreement,
    start: date,
    end: date,
    actor: Actor | None = None,
    user,
    formats: list[str] | tuple[str, ...] | None = None,
) -> tuple[Report, bool]:
    """`report_issue`, also saying whether the report is new (True) or an identical one issued before (False)."""
    formats = list(dict.fromkeys(formats or FORMATS))
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise ValueError(f"Unknown format {', '.join(unknown)}; choose from {', '.join(FORMATS)}.")
    data, annex = report_build(agreement, start=start, end=end, actor=actor)
    with annex.file:
        digest = content_hash(data)
        existing = Report.objects.filter(sha256=digest).first()
        if existing is not None:
            return existing, False
        return _save(agreement, start, end, actor, user, formats, data, digest, annex)


def _save(agreement, start, end, actor, user, formats, data, digest, annex) -> tuple[Report, bool]:
    report = Report(
        agreement=agreement,
        actor=actor,
        period_start=start,
        period_end=end,
        title=data["title"][: Report._meta.get_field("title").max_length],
        parameters={
            "agreement": agreement.slug,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "actor": actor.slug if actor is not None else None,
            "formats": formats,
            "schema": SCHEMA_VERSION,
        },
        frozen_data=data,
        sha256=digest,
        issued_by=user,
        issued_at=timezone.now(),
    )
    # Named by the report's hash: the same content is always the same file, and nothing else writes there.
    report.annex.save(f"{digest}-annex.csv", File(annex.file), save=False)
    report.full_clean()
    try:
        with transaction.atomic():
            report.save()
    except IntegrityError:
        report.annex.delete(save=False)
        # The same content was issued by someone else between the lookup and the save.
        existing = Report.objects.filter(sha256=digest).first()
        if existing is None:
            raise
        return existing, False
    return report, True


def frozen_hash_matches(report: Report) -> bool:
    """Whether the stored data still hashes to the stored SHA-256, and the stored annex to the SHA-256 the data
    gives for it (they always should: nothing edits a report)."""
    if content_hash(report.frozen_data) != report.sha256:
        return False
    annex = report.frozen_data.get("annex")
    if annex is None:
        return True  # schema 1: every violation was in the document itself
    if not report.annex:
        return False
    digest = hashlib.sha256()
    with report.annex.open("rb") as stored:
        for chunk in stored.chunks():
            digest.update(chunk)
    return digest.hexdigest() == annex["sha256"]
