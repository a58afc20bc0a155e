"""Saving an agreement with its parties.

The parties are rows of AgreementParty (actor, role), which keeps no history of its own; so a change of parties is
saved as a change of the agreement too: a history row with who, when and which parties came and went, and a new
`updated_at`, which is what the API's ETags of agreements are computed from.
"""

from __future__ import annotations

from collections.abc import Iterable

from agreements.models import Actor, Agreement, AgreementParty
from agreements.services.base import atomic, model_save, validate

# simple-history keeps the change reason in a CharField(max_length=100).
_CHANGE_REASON_LENGTH = 100


def _describe(pairs, actors: dict[int, Actor], sign: str) -> list[str]:
    return [f"{sign}{actors[actor_id].slug if actor_id in actors else actor_id} ({role})" for actor_id, role in pairs]


@atomic()
def agreement_save(*, agreement: Agreement, user, parties: Iterable[tuple[Actor, str]] | None = None) -> Agreement:
    """Validate and save `agreement`; with `parties` (actor, role) pairs, make its parties exactly those.

    `parties` None leaves the parties as they are; an empty list removes them all. A pair given twice counts once.
    """
    wanted = None if parties is None else {(actor.pk, role): actor for actor, role in parties}
    added, removed = set(), set()
    if wanted is not None:
        current = set(agreement.party_roles.values_list("actor_id", "role")) if agreement.pk else set()
        added, removed = wanted.keys() - current, current - wanted.keys()
    if added or removed:
        actors = {actor.pk: actor for actor in wanted.values()}
        actors |= {actor.pk: actor for actor in Actor.objects.filter(pk__in={actor_id for actor_id, _ in removed})}
        changes = _describe(sorted(added), actors, "+") + _describe(sorted(removed), actors, "-")
        reason = "parties: " + ", ".join(changes)
        if len(reason) > _CHANGE_REASON_LENGTH:
            reason = reason[: _CHANGE_REASON_LENGTH - 1] + "…"
        agreement._change_reason = reason
    model_save(instance=agreement, user=user)
    for actor_id, role in removed:
        AgreementParty.objects.filter(agreement=agreement, actor_id=actor_id, role=role).delete()
    for actor_id, role in sorted(added):
        party = AgreementParty(agreement=agreement, actor=wanted[(actor_id, role)], role=role)
        validate(party)
        party.save()
    return agreement
