"""Matching names: actors and places are found by name or alias, compared as `fold` compares them."""

from __future__ import annotations

import unicodedata

from agreements.models import Actor, Place

_PUNCTUATION = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "–": "-", "—": "-", "‐": "-"})


def fold(text) -> str:
    """A name as compared: case, accents, apostrophe and dash variants and repeated spaces do not count."""
    text = unicodedata.normalize("NFKD", str(text or ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_PUNCTUATION)
    return " ".join(text.casefold().split())


class NameIndex:
    """Folded name → the ids it names, for actors or places, built once per import (two or three queries)."""

    def __init__(self):
        self.ids: dict[str, set[int]] = {}

    def add(self, name: str, pk: int) -> None:
        key = fold(name)
        if key:
            self.ids.setdefault(key, set()).add(pk)

    def find(self, name: str) -> set[int]:
        return self.ids.get(fold(name), set())


def actor_index() -> tuple[NameIndex, dict[int, Actor]]:
    index, actors = NameIndex(), {}
    for actor in Actor.objects.prefetch_related("aliases"):
        actors[actor.pk] = actor
        for name in (actor.name, actor.short_name, actor.slug, *(alias.name for alias in actor.aliases.all())):
            index.add(name, actor.pk)
    return index, actors


def place_index() -> tuple[NameIndex, dict[int, Place]]:
    index, places = NameIndex(), {}
    for place in Place.objects.prefetch_related("aliases"):
        places[place.pk] = place
        for name in (place.name, *(alias.name for alias in place.aliases.all())):
            index.add(name, place.pk)
    return index, places
