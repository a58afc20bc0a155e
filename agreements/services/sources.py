"""Sources and citations: one article is one Source however many incidents cite it; citing or un-citing a source
is an edit of the violation (the same rule decides who may), is in its history and gives it a new version.

Un-citing retires the citation (who, when, why), never deletes it. The last source of a verified violation cannot
be removed: a verification rests on its sources, so the reviewer must first reopen it (refused, not silently
reopened: the reviewer decides what becomes of the verification, not the editor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from agreements.models import Source, Violation, ViolationSource
from agreements.services import permissions
from agreements.services.base import atomic, attribute, model_save, refuse, validate

_CHANGE_REASON_LENGTH = 100


@dataclass
class NewSource:
    """The fields of a source typed in while recording a violation (reused if `source_known` finds it)."""

    publisher: str
    title: str
    kind: str
    url: str = ""
    published_on: object = None
    reliability: str = Source.Reliability.F
    credibility: int = Source.Credibility.CANNOT_JUDGE
    extra: dict = field(default_factory=dict)

    def as_source(self) -> Source:
        """The unsaved row these fields describe (the service saves it; the bulk writer inserts it in a batch)."""
        return Source(
            publisher=self.publisher,
            title=self.title,
            kind=self.kind,
            url=self.url,
            published_on=self.published_on,
            reliability=self.reliability,
            credibility=self.credibility,
            **self.extra,
        )


def citation_source_problem(*, source, publisher: str = "", title: str = "", kind: str = "", typed=None) -> str | None:
    """The one rule of what a citation names, asked by the service, the API and the admin form alike: exactly one
    source, an existing one or a new one with its publisher, title and kind. None when it holds, else why not.

    `typed`: whether any field of a new source was given (default: a publisher or a title).
    """
    typed = bool(publisher or title) if typed is None else typed
    if source is not None and typed:
        return "Choose an existing source or describe a new one, not both."
    if source is None:
        if not typed:
            return "Choose an existing source or describe a new one."
        missing = [name for name, value in (("publisher", publisher), ("title", title), ("kind", kind)) if not value]
        if missing:
            return f"A new source needs its {' and '.join(missing)}."
    return None


def source_known(*, url: str = "", publisher: str = "", title: str = "") -> Source | None:
    """The source already recorded for this article — the one rule of source reuse, for every face and the import.

    By URL when there is one (the URL names the article, whatever title someone typed). Without a URL, by publisher
    and title, as a bibliography names a work: the same report typed twice, or an export imported again, must not
    become two sources splitting its evidence; a distinct report without a URL gets a distinct title.
    """
    if url:
        return Source.all_objects.filter(url=url).first()
    if publisher and title:
        return Source.all_objects.filter(url="", publisher=publisher, title=title).first()
    return None


@atomic()
def source_get_or_create(*, new: NewSource, user) -> Source:
    """The source `source_known` finds (so one article is one row however many incidents cite it), else a new one.

    Two requests citing the same new URL at once both end with the one row: the loser of the race on the unique
    URL rolls back to its savepoint and reuses the winner's source.
    """
    existing = source_known(url=new.url, publisher=new.publisher, title=new.title)
    if existing is not None:
        return existing
    source = new.as_source()
    try:
        with transaction.atomic():
            return model_save(instance=source, user=user)
    except (IntegrityError, ValidationError):
        # full_clean saw no row, the insert met one: another transaction committed the same URL meanwhile.
        existing = source_known(url=new.url)
        if existing is None:
            raise
        return existing


def _touch(violation: Violation, *, user, reason: str) -> None:
    """A change of a violation's sources is a change of the violation: new version, history entry, its editor."""
    current = Violation.objects.select_for_update(of=("self",)).get(pk=violation.pk)
    current.version += 1
    current.updated_by = user
    attribute(current, user)
    current._change_reason = reason[:_CHANGE_REASON_LENGTH]
    current.save(update_fields=["version", "updated_by", "updated_at"])
    violation.version, violation.updated_by, violation.updated_at = current.version, user, current.updated_at


@atomic()
def violation_cite(
    *,
    violation: Violation,
    user,
    source: Source | None = None,
    new_source: NewSource | None = None,
    note: str = "",
    new_record: bool = False,
) -> ViolationSource:
    """Attach a source (an existing one, or one typed in) to a violation.

    `new_record`: the violation is being recorded in the same transaction, so the citation is part of its first
    version rather than an edit.
    """
    if not new_record:
        current = Violation.objects.get(pk=violation.pk)
        refuse(permissions.violation_cite_refusal(violation=current, user=user))
    new = new_source or NewSource(publisher="", title="", kind="")
    problem = citation_source_problem(
        source=source, publisher=new.publisher, title=new.title, kind=new.kind, typed=new_source is not None
    )
    if problem:
        raise ValidationError(problem)
    if source is None:
        source = source_get_or_create(new=new_source, user=user)
    if source.retired_at is not None:
        raise ValidationError({"source": "This source is retired; cite one that stands."})
    citation = ViolationSource.all_objects.filter(violation=violation, source=source).first()
    if citation is not None and citation.retired_at is None:
        raise ValidationError({"source": "This source is already cited for this violation."})
    if citation is not None:
        # Cited again after being removed: the link is restored (its history shows both), not duplicated.
        citation.retired_at, citation.retired_by, citation.retirement_reason = None, None, ""
        citation.note = note or citation.note
    else:
        citation = ViolationSource(violation=violation, source=source, note=note)
    _save_citation(citation, user=user)
    if not new_record:
        _touch(violation, user=user, reason=f"source cited: {source}")
    return citation


def _save_citation(citation: ViolationSource, *, user) -> ViolationSource:
    # Not model_save: restoring a retired link is the one save a retired row may get.
    validate(citation)
    attribute(citation, user)
    citation.save()
    return citation


@atomic()
def citation_update(*, citation: ViolationSource, user) -> ViolationSource:
    """Save a changed note of a citation (an edit of the violation)."""
    refuse(permissions.violation_cite_refusal(violation=Violation.objects.get(pk=citation.violation_id), user=user))
    model_save(instance=citation, user=user)
    _touch(citation.violation, user=user, reason=f"source note changed: {citation.source}")
    return citation


@atomic()
def citation_remove(*, citation: ViolationSource, user, reason: str = "removed by an editor") -> None:
    """Un-cite a source: the link is retired with who, when and why (the source itself stays, others may cite it)."""
    violation = Violation.objects.select_for_update(of=("self",)).get(pk=citation.violation_id)
    refuse(permissions.violation_cite_refusal(violation=violation, user=user))
    standing = ViolationSource.objects.filter(violation=violation).exclude(pk=citation.pk)
    if violation.status == Violation.Status.VERIFIED and not standing.exists():
        raise ValidationError(
            {"sources": "A verified violation keeps at least one source; a reviewer must reopen it first."},
            code="last_source",
        )
    citation.retired_at, citation.retired_by, citation.retirement_reason = timezone.now(), user, reason
    attribute(citation, user)
    citation.save(update_fields=["retired_at", "retired_by", "retirement_reason"])
    _touch(violation, user=user, reason=f"source removed: {citation.source}")
