"""Reading a row against the record: one reader class per layout (`layouts.py`) over this base, which matches
actors, places and the agreement's clauses by name against references loaded once per import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agreements import services
from agreements.acled import PLACE_KIND_PRECISIONS
from agreements.duplicates import haversine_km
from agreements.importing.cells import COORDINATE_STEP, CellError, cell_text, parse_coordinate, split
from agreements.importing.names import actor_index, fold, place_index
from agreements.importing.results import RowResult
from agreements.importing.tables import header_key
from agreements.models import Actor, Agreement, Clause, Place, Violation, Zone

FAR_FROM_PLACE_KM = 25


@dataclass
class Prepared:
    """What a row asks for: the service's arguments, and the sources to find or create first."""

    fields: dict[str, Any]
    clauses: list[Clause]
    perpetrators: list[Actor]
    affected: list[Actor]
    sources: list[services.NewSource]


class References:
    """The actors, places, clauses and zones rows are read and located against, loaded once per import (a few
    queries, however many rows)."""

    def __init__(self, agreement: Agreement):
        self.agreement = agreement
        self.actor_index, self.actors = actor_index()
        self.place_index, self.places = place_index()
        self.clauses = {clause.number.strip(): clause for clause in Clause.objects.filter(agreement=agreement)}
        self.zones = list(Zone.objects.filter(agreement=agreement, kind__in=Zone.RESTRICTING_KINDS))


class RowReader:
    """Reads one layout's rows against the database's actors, places and the agreement's clauses."""

    layout = ""
    field_columns: dict[str, str] = {}  # model field → the column a row error names

    def __init__(self, *, references: References, headers: list[str]):
        self.references = references
        self.agreement = references.agreement
        self.actor_index, self.actors = references.actor_index, references.actors
        self.place_index, self.places = references.place_index, references.places
        self.clauses = references.clauses
        self.columns = {header_key(header): position for position, header in enumerate(headers)}

    def get(self, values: list[Any], column: str):
        position = self.columns.get(column)
        return values[position] if position is not None and position < len(values) else None

    def text(self, values, column: str) -> str:
        return cell_text(self.get(values, column))

    # the row

    def read(self, values: list[Any], result: RowResult) -> Prepared:
        """The row's service arguments, as far as they can be read; what cannot be is an error on `result`."""
        errors = result.errors

        def attempt(read: Callable[[], Any], default=None):
            try:
                return read()
            except CellError as exc:
                errors.append(str(exc))
                return default

        prepared = self.read_row(values, result, attempt)
        if not prepared.clauses and not any(error.startswith("clauses") for error in result.errors):
            result.warnings.append('clauses: the row cites no clause; it is counted under "no clause cited".')
        return prepared

    def read_row(self, values: list[Any], result: RowResult, attempt) -> Prepared:
        raise NotImplementedError

    # links

    def _actors(self, values, columns: tuple[str, ...], result: RowResult) -> list[Actor]:
        found: list[Actor] = []
        for column in columns:
            for name in split(self.text(values, column)):
                ids = self.actor_index.find(name)
                if not ids:
                    result.errors.append(
                        f"{column}: no actor named {name!r} (add the actor, or add this name as an alias of one)."
                    )
                elif len(ids) > 1:
                    names = ", ".join(sorted(self.actors[pk].name for pk in ids))
                    result.errors.append(f"{column}: {name!r} could be any of {names}; use the full name.")
                else:
                    actor = self.actors[next(iter(ids))]
                    if actor not in found:
                        found.append(actor)
        return found

    def _clauses(self, values, result: RowResult) -> list[Clause]:
        found = []
        for number in split(self.text(values, "clauses")):
            clause = self.clauses.get(number)
            if clause is None:
                result.errors.append(f"clauses: {self.agreement.slug} has no clause {number!r}.")
            elif clause not in found:
                found.append(clause)
        return found

    def _admin_areas(self, values) -> dict[str, str]:
        return {level: self.text(values, level) for level in ("admin1", "admin2", "admin3") if self.text(values, level)}

    def _place(self, values, column: str, result: RowResult) -> Place | None:
        name = self.text(values, column)
        areas = self._admin_areas(values)
        if not name:
            if "admin1" not in areas:
                return None
            candidates = [
                place
                for place in self.places.values()
                if place.kind == Place.Kind.ADMIN1 and fold(place.admin1) == fold(areas["admin1"])
            ]
            if len(candidates) == 1:
                return candidates[0]
            if not candidates:
                result.errors.append(f"admin1: no governorate-level place for {areas['admin1']!r}; name a location.")
            else:
                result.errors.append(f"admin1: several governorate-level places for {areas['admin1']!r}.")
            return None
        candidates = [self.places[pk] for pk in self.place_index.find(name)]
        if not candidates:
            result.errors.append(f"{column}: no place named {name!r} (add the place, or add this name as its alias).")
            return None
        narrowed = [
            place
            for place in candidates
            if all(
                not getattr(place, level) or fold(getattr(place, level)) == fold(area) for level, area in areas.items()
            )
        ]
        if len(narrowed) == 1:
            return narrowed[0]
        if not narrowed:
            where = ", ".join(f"{level} {area!r}" for level, area in areas.items())
            result.errors.append(f"{column}: no place named {name!r} in {where}.")
            return None
        names = "; ".join(sorted(f"{place} [{place.admin1}/{place.admin2}]" for place in narrowed))
        result.errors.append(f"{column}: {name!r} could be any of {names}; give admin1/admin2 to tell them apart.")
        return None

    def _where(self, values, fields: dict, result: RowResult, attempt, *, place_column: str, precision) -> None:
        place = self._place(values, place_column, result)
        latitude = attempt(lambda: parse_coordinate(self.get(values, "latitude"), "latitude", 90))
        longitude = attempt(lambda: parse_coordinate(self.get(values, "longitude"), "longitude", 180))
        unreadable = any(error.startswith(("latitude", "longitude")) for error in result.errors)
        if (latitude is None) != (longitude is None) and not unreadable:
            result.errors.append("latitude, longitude: give both or neither.")
            latitude = longitude = None
        if (
            place is None
            and latitude is None
            and not any(e.startswith((place_column, "admin1")) for e in result.errors)
        ):
            result.errors.append(f"{place_column}: give a place, or latitude and longitude.")
        if place is not None and latitude is not None:
            if (latitude, longitude) == (
                place.latitude.quantize(COORDINATE_STEP),
                place.longitude.quantize(COORDINATE_STEP),
            ):
                latitude = longitude = None  # the place's own point: the violation takes it from its place
            else:
                distance = haversine_km(
                    (float(longitude), float(latitude)), (float(place.longitude), float(place.latitude))
                )
                if distance > FAR_FROM_PLACE_KM:
                    result.warnings.append(
                        f"latitude, longitude: {distance:.0f} km from {place.name}; check the place or the point."
                    )
        if precision is None:
            precision = PLACE_KIND_PRECISIONS.get(place.kind) if place is not None else None
        if precision == Violation.LocationPrecision.TOWN and place is not None and place.kind == Place.Kind.SITE:
            precision = Violation.LocationPrecision.EXACT
        fields.update(
            place=place,
            latitude=latitude,
            longitude=longitude,
            location_precision=precision or Violation.LocationPrecision.TOWN,
        )
