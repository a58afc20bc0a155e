"""Reads of the record that more than one face needs. Plain functions over querysets; nothing here writes.

Which clauses are past their deadline without evidence of fulfilment is the compliance engine's to say (one rule,
in `reports.engine.rules.deadline_of`); the To-do page reads it from `reports.deadlines`, since this app never reads
`reports`.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from agreements.models import Actor, Agreement, Violation


def violations_awaiting_review(*, agreement: Agreement | None = None) -> QuerySet[Violation]:
    """Reported (unreviewed) violations that are not retracted, the longest-waiting first."""
    queryset = (
        Violation.objects.standing()
        .filter(status=Violation.Status.REPORTED)
        .select_related("agreement", "place", "reported_by")  # shown on every row of the list
        .prefetch_related(Prefetch("perpetrators", queryset=Actor.objects.only("id", "name", "short_name")))
        .order_by("created_at", "id")
    )
    if agreement is not None:
        queryset = queryset.filter(agreement=agreement)
    return queryset
