"""The two layouts a file can have, one reader each: ours (what our export writes) and ACLED-style."""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from agreements import acled, services
from agreements.importing.cells import (
    OUR_SOURCE_RE,
    SOURCE_SEPARATOR,
    parse_bool,
    parse_choice,
    parse_count,
    parse_grade,
    parse_moment,
    split,
)
from agreements.importing.readers import Prepared, RowReader
from agreements.importing.results import ACLED, OURS, RowResult
from agreements.models import Source, Violation
from agreements.models.violations import COUNT_FIELDS


class AcledReader(RowReader):
    """ACLED-style rows: event types become categories, `fatalities` the best estimate of killed (0: not
    reported), each publisher of `source` a source titled "<publisher>, report of <date>"."""

    layout = ACLED
    field_columns = acled.ACLED_FIELD_COLUMNS

    def read_row(self, values, result: RowResult, attempt) -> Prepared:
        fields: dict[str, Any] = {"agreement": self.agreement}
        started, _ = attempt(lambda: parse_moment(self.get(values, "event_date"), "event_date"), (None, False))
        if started is None and not any("event_date" in e for e in result.errors):
            result.errors.append("event_date: required.")
        fields["started_at"] = started
        precision = attempt(lambda: parse_count(self.get(values, "time_precision"), "time_precision"))
        if precision is not None and precision not in acled.ACLED_TIME_PRECISIONS:
            result.errors.append(f"time_precision: {precision} is not an ACLED code (1 day, 2 week, 3 month).")
        fields["time_precision"] = acled.ACLED_TIME_PRECISIONS.get(precision, Violation.TimePrecision.DAY)

        fields["category"] = self._acled_category(values, result, attempt)
        perpetrators = self._actors(values, ("actor1", "assoc_actor_1"), result)
        affected = self._actors(values, ("actor2", "assoc_actor_2"), result)
        clauses = self._clauses(values, result)

        geo = attempt(lambda: parse_count(self.get(values, "geo_precision"), "geo_precision"))
        if geo is not None and geo not in acled.ACLED_GEO_PRECISIONS:
            result.errors.append(f"geo_precision: {geo} is not an ACLED code (1 town, 2 district, 3 region).")
        self._where(
            values, fields, result, attempt, place_column="location", precision=acled.ACLED_GEO_PRECISIONS.get(geo)
        )

        killed = attempt(lambda: parse_count(self.get(values, "fatalities"), "fatalities"))
        fields["killed_best"] = killed or None  # ACLED's 0 means "none reported"
        fields["description"] = self.text(values, "notes")
        if not fields["description"]:
            result.errors.append("notes: a description of what happened is required.")
        sources = self._acled_sources(values, started, result, attempt)
        return Prepared(fields, clauses, perpetrators, affected, sources)

    def _acled_category(self, values, result: RowResult, attempt) -> str | None:
        if self.text(values, "category"):
            return attempt(lambda: parse_choice(self.get(values, "category"), "category", Violation.Category.choices))
        event_type, sub_event_type = self.text(values, "event_type"), self.text(values, "sub_event_type")
        if not event_type:
            result.errors.append("event_type: required.")
            return None
        category, warning = acled.category_for_acled(event_type, sub_event_type)
        if category is None:
            known = ", ".join(acled.ACLED_EVENT_TYPE_NAMES)
            result.errors.append(f"event_type: {event_type!r} is not an ACLED event type ({known}).")
        elif warning:
            result.warnings.append(warning)
        return category

    def _acled_sources(self, values, started, result: RowResult, attempt) -> list[services.NewSource]:
        publishers = split(self.text(values, "source"))
        if not publishers:
            result.warnings.append("source: no source given; add one before the violation is reviewed.")
            return []
        reliability, credibility = Source.Reliability.F, Source.Credibility.CANNOT_JUDGE
        grade = self.text(values, "source_grade")
        if grade:
            reliability, credibility = attempt(lambda: parse_grade(grade, "source_grade"), (reliability, credibility))
        kind = attempt(lambda: parse_choice(self.get(values, "source_kind"), "source_kind", Source.Kind.choices))
        url = self.text(values, "source_url")
        if url and len(publishers) > 1:
            result.errors.append("source_url: one URL was given for several publishers; give one publisher per row.")
        day = f", report of {started:%Y-%m-%d}" if started else ""
        return [
            services.NewSource(
                publisher=publisher,
                title=f"{publisher}{day}",
                kind=kind or Source.Kind.OTHER,
                url=url,
                reliability=reliability,
                credibility=credibility,
            )
            for publisher in publishers
        ]


class OursReader(RowReader):
    """Rows with our export's columns, so an export can be edited and imported again."""

    layout = OURS
    field_columns = {"publisher": "sources", "title": "sources", "url": "sources", "kind": "sources"}

    def read_row(self, values, result: RowResult, attempt) -> Prepared:
        fields: dict[str, Any] = {"agreement": self.agreement}
        self._identity(values, fields, result)
        if attempt(lambda: parse_bool(self.get(values, "retracted"), "retracted")):
            result.errors.append("retracted: a retracted record is not imported.")

        started, exact = attempt(lambda: parse_moment(self.get(values, "started_at"), "started_at"), (None, False))
        if started is None and not any(e.startswith("started_at") for e in result.errors):
            result.errors.append("started_at: required.")
        fields["started_at"] = started
        fields["ended_at"] = attempt(lambda: parse_moment(self.get(values, "ended_at"), "ended_at")[0])
        choices = Violation.TimePrecision.choices
        precision = attempt(lambda: parse_choice(self.get(values, "time_precision"), "time_precision", choices))
        fields["time_precision"] = precision or (
            Violation.TimePrecision.EXACT if exact else Violation.TimePrecision.DAY
        )
        fields["category"] = attempt(
            lambda: parse_choice(self.get(values, "category"), "category", Violation.Category.choices)
        )
        if fields["category"] is None and not any(e.startswith("category") for e in result.errors):
            result.errors.append("category: required.")
        clauses = self._clauses(values, result)
        perpetrators = self._actors(values, ("perpetrators",), result)
        affected = self._actors(values, ("affected_actors",), result)

        choices = Violation.LocationPrecision.choices
        location_precision = attempt(
            lambda: parse_choice(self.get(values, "location_precision"), "location_precision", choices)
        )
        self._where(values, fields, result, attempt, place_column="place", precision=location_precision)
        for name in COUNT_FIELDS:
            fields[name] = attempt(lambda name=name: parse_count(self.get(values, name), name))
        fields["description"] = self.text(values, "description")
        if not fields["description"]:
            result.errors.append("description: required.")
        return Prepared(fields, clauses, perpetrators, affected, self._sources(values, result))

    def _identity(self, values, fields: dict, result: RowResult) -> None:
        """The row's agreement (must be the import's) and public id (kept when given; must be new)."""
        given = self.text(values, "agreement")
        if given and given != self.agreement.slug:
            result.errors.append(f"agreement: the row is for {given!r}, the import is into {self.agreement.slug!r}.")
        public_id = self.text(values, "uuid")
        if not public_id:
            return
        try:
            fields["uuid"] = uuid_module.UUID(public_id)
        except ValueError:
            result.errors.append(f"uuid: {public_id!r} is not a UUID.")
            return
        if Violation.objects.filter(uuid=fields["uuid"]).exists():
            result.errors.append(
                f"uuid: violation {public_id} is already recorded; an import only adds new violations "
                "(edit it in the admin, or clear the uuid cell to add a copy)."
            )

    def _sources(self, values, result: RowResult) -> list[services.NewSource]:
        sources = []
        for line in split(self.text(values, "sources"), SOURCE_SEPARATOR.strip()):
            match = OUR_SOURCE_RE.match(line)
            if not match:
                result.errors.append(f"sources: {line!r} is not 'publisher: title [grade] url'.")
                continue
            reliability, credibility = parse_grade(match["grade"], "sources")
            sources.append(
                services.NewSource(
                    publisher=match["publisher"].strip(),
                    title=match["title"].strip(),
                    kind=Source.Kind.OTHER,
                    url=match["url"] or "",
                    reliability=reliability,
                    credibility=credibility,
                )
            )
        return sources


READERS = {ACLED: AcledReader, OURS: OursReader}
