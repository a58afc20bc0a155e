"""Reading an agreement's data directory (`agreements/demo/sochi/` is one) into checked entries, before any write.

A directory holds YAML (or JSON) files; each is a mapping whose top-level keys are sections. A section appears in
one file only; which file holds it is up to the author (the Sochi demo keeps one kind per file):

- `agreement` (required): the agreement's fields (`slug`, `title`, `signed_on`, `status`, …).
- `parties`: actor slug → role, or list of roles (`russia: [signatory, guarantor]`).
- `demo_user`: the username the records are attributed to when no user is given (default `<slug>-demo`).
- `actors`, `clauses`, `places`, `zones`, `sources`, `violations`, `control_changes`, `patrols`,
  `route_statuses`: lists of entries. An entry's keys are the model's field names (values as the database stores
  them: choice values such as `state_force`, dates as `2019-05-06`, a violation's times as a date, read as midnight
  UTC, or a datetime with its zone) plus the references below.
- `defaults`: section → values every entry of that section in this file starts from (an entry's own keys win).

References name records of the same directory: actors by `slug` (or an actor already in the database), clauses by
`number`, places by `name`, violations and sources by their `key` (a handle for the files only; a violation's key
also fixes its public id). Aliases are a list of names, each a plain string or `{language: name}`. A violation's
`citations` list source keys, or `{source: key, note: what this source says of it}`.

Anything else (an unknown key, a value of the wrong type, a choice that does not exist, a reference to nothing) is a
`DataError` naming the file and the entry; nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml  # PyYAML, installed with drf-spectacular (requirements.txt)
from django.db import models

from agreements.models import (
    Actor,
    Agreement,
    Clause,
    ControlChange,
    Patrol,
    Place,
    RouteStatus,
    Source,
    Violation,
    Zone,
)


class DataError(ValueError):
    """A data file that cannot be loaded as it is; the message names the file and the entry."""


@dataclass(frozen=True)
class Section:
    """One list section: the model its entries become, the key naming an entry, and the references it may hold."""

    model: type[models.Model]
    key: str
    required: tuple[str, ...]
    refs: dict[str, str] = field(default_factory=dict)
    # Model fields an entry may not set: the loader or the services decide them.
    decided: frozenset[str] = frozenset()


SECTIONS: dict[str, Section] = {
    "actors": Section(
        Actor, "slug", ("slug", "name", "kind"), {"part_of": "actor", "backed_by": "actors", "aliases": "aliases"}
    ),
    "clauses": Section(
        Clause, "number", ("number", "title", "kind"), {"obligated": "actors"}, decided=frozenset({"position"})
    ),
    "places": Section(Place, "name", ("name", "kind"), {"aliases": "aliases"}),
    "zones": Section(Zone, "slug", ("slug", "name", "kind", "geometry"), {"clause": "clause"}),
    "sources": Section(Source, "key", ("key", "publisher", "title", "kind", "url"), {"key": "key"}),
    "violations": Section(
        Violation,
        "key",
        ("key", "category", "started_at"),
        {
            "key": "key",
            "clauses": "clauses",
            "perpetrators": "actors",
            "affected": "actors",
            "place": "place",
            "citations": "citations",
        },
    ),
    "control_changes": Section(
        ControlChange,
        "occurred_on",
        ("occurred_on", "to_actor"),
        {"place": "place", "from_actor": "actor", "to_actor": "actor", "violation": "violation", "source": "source"},
    ),
    "patrols": Section(
        Patrol,
        "patrolled_on",
        ("patrolled_on", "kind"),
        {"clause": "clause", "participants": "actors", "incidents": "violations", "source": "source"},
    ),
    "route_statuses": Section(
        RouteStatus,
        "route",
        ("route", "observed_on", "status"),
        {"clause": "clause", "source": "source"},
    ),
}
TOP_LEVEL = {"agreement", "parties", "demo_user", "defaults", *SECTIONS}
# Model fields no data file sets, whatever the model.
NEVER_GIVEN = {"id", "archived_file", "sha256"}
SUFFIXES = {".yaml", ".yml", ".json"}


@dataclass
class Entry:
    """One entry of a data file: its plain field values (converted for the model) and its references (as written)."""

    file: Path
    section: str
    index: int
    values: dict
    refs: dict
    label: object = None  # its key as written, to name it in messages before its values are read

    @property
    def name(self):
        key = SECTIONS[self.section].key if self.section in SECTIONS else "slug"
        return self.refs.get(key, self.values.get(key))

    def where(self) -> str:
        return f"{self.file}, {self.section} entry {self.index} ({self.name or self.label!s})"

    def error(self, message: str) -> DataError:
        return DataError(f"{self.where()}: {message}")


@dataclass
class AgreementData:
    """Every entry of a directory, in file order, section by section."""

    directory: Path
    agreement: Entry
    parties: list[tuple[str, str]]
    demo_user: str
    sections: dict[str, list[Entry]]

    def __getattr__(self, name: str) -> list[Entry]:
        if name in SECTIONS:
            return self.sections.get(name, [])
        raise AttributeError(name)


# --- reading files --------------------------------------------------------------------------------------------------


def read(directory: str | Path) -> AgreementData:
    """Read and check every data file of `directory`; raise DataError on the first problem."""
    directory = Path(directory)
    files = sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES) if directory.is_dir() else []
    if not files:
        raise DataError(f"{directory}: no .yaml or .json data files here.")
    found: dict[str, tuple[Path, object]] = {}
    defaults: dict[tuple[Path, str], dict] = {}
    for path in files:
        for name, value in _read_file(path).items():
            if name not in TOP_LEVEL:
                raise DataError(f"{path}: unknown section {name!r} (known: {', '.join(sorted(TOP_LEVEL))}).")
            if name == "defaults":
                defaults.update(_defaults(path, value))
            elif name in found:
                raise DataError(f"{path}: section {name!r} is already in {found[name][0]}.")
            else:
                found[name] = (path, value)
    if "agreement" not in found:
        raise DataError(f"{directory}: no file has an 'agreement' section.")
    sections = {
        name: _entries(path, name, value, defaults.get((path, name), {}))
        for name, (path, value) in found.items()
        if name in SECTIONS
    }
    agreement = _agreement(*found["agreement"])
    slug = agreement.values["slug"]
    data = AgreementData(
        directory=directory,
        agreement=agreement,
        parties=_parties(*found.get("parties", (None, {}))),
        demo_user=_demo_user(*found.get("demo_user", (None, f"{slug}-demo"))),
        sections=sections,
    )
    _check_references(data)
    return data


def _read_file(path: Path) -> dict:
    try:
        with path.open(encoding="utf-8") as handle:
            content = json.load(handle) if path.suffix == ".json" else yaml.safe_load(handle)
    except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not readable as {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(content, dict):
        raise DataError(f"{path}: expected a mapping of sections (agreement:, actors:, …) at the top.")
    return content


def _defaults(path: Path, value) -> dict[tuple[Path, str], dict]:
    if not isinstance(value, dict) or not all(name in SECTIONS and isinstance(v, dict) for name, v in value.items()):
        raise DataError(f"{path}: 'defaults' maps a list section ({', '.join(SECTIONS)}) to field values.")
    return {(path, name): v for name, v in value.items()}


def _agreement(path: Path, value) -> Entry:
    if not isinstance(value, dict):
        raise DataError(f"{path}: 'agreement' is a mapping of the agreement's fields.")
    entry = Entry(path, "agreement", 1, {}, {}, label=value.get("slug"))
    entry.values = _fields(entry, Agreement, value, required=("slug", "title", "status"), decided=frozenset())
    return entry


def _parties(path: Path | None, value) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        raise DataError(f"{path}: 'parties' maps an actor slug to a role or a list of roles.")
    roles = {choice for choice, _ in Agreement.parties.through._meta.get_field("role").choices}
    parties = []
    for actor, given in value.items():
        for role in given if isinstance(given, list) else [given]:
            if role not in roles:
                raise DataError(f"{path}, parties ({actor}): role {role!r} is not one of {', '.join(sorted(roles))}.")
            parties.append((str(actor), role))
    return parties


def _demo_user(path: Path | None, value) -> str:
    if not isinstance(value, str) or not value:
        raise DataError(f"{path}: 'demo_user' is a username.")
    return value


def _entries(path: Path, name: str, value, defaults: dict) -> list[Entry]:
    if not isinstance(value, list):
        raise DataError(f"{path}: {name!r} is a list of entries (each starting with '- ').")
    section, entries, seen = SECTIONS[name], [], {}
    for index, raw in enumerate(value, start=1):
        entry = Entry(path, name, index, {}, {})
        if not isinstance(raw, dict):
            raise entry.error("expected a mapping of field names to values.")
        raw = {**defaults, **raw}
        entry.label = raw.get(section.key)
        entry.refs = {
            key: _reference(entry, key, kind, raw.pop(key)) for key, kind in section.refs.items() if key in raw
        }
        entry.values = _fields(entry, section.model, raw, required=section.required, decided=section.decided)
        if name in {"actors", "clauses", "places", "zones", "sources", "violations"}:
            if entry.name in seen:
                raise entry.error(f"{section.key} {entry.name!r} is already used by entry {seen[entry.name]}.")
            seen[entry.name] = index
        entries.append(entry)
    return entries


# --- values ---------------------------------------------------------------------------------------------------------


def _fields(entry: Entry, model, raw: dict, *, required, decided) -> dict:
    missing = [name for name in required if name not in raw and name not in entry.refs]
    if missing:
        raise entry.error(f"missing {', '.join(missing)}.")
    plain = set(_plain_fields(model)) - decided
    values = {}
    for name, value in raw.items():
        if name not in plain:
            refs = SECTIONS[entry.section].refs if entry.section in SECTIONS else {}
            raise entry.error(f"unknown key {name!r} (an entry here may have: {', '.join(sorted(plain | set(refs)))}).")
        values[name] = _value(entry, model._meta.get_field(name), value)
    return values


def _plain_fields(model) -> list[str]:
    return [
        f.name for f in model._meta.concrete_fields if not f.is_relation and f.editable and f.name not in NEVER_GIVEN
    ]


def _value(entry: Entry, model_field, value):
    """`value` as `model_field` stores it, or a DataError saying what was expected."""
    name = model_field.name
    if value is None:
        if not model_field.null:
            raise entry.error(f"{name}: a value is required (got nothing).")
        return None
    converted = _convert(model_field, value)
    if converted is _WRONG:
        raise entry.error(f"{name}: {value!r} is not {_describe(model_field)}.")
    choices = [choice for choice, _ in model_field.choices or ()]
    if choices and converted not in choices:
        raise entry.error(f"{name}: {value!r} is not one of {', '.join(str(c) for c in choices)}.")
    return converted


_WRONG = object()


def _describe(model_field) -> str:
    if isinstance(model_field, models.DateTimeField):
        return "a date (read as midnight UTC) or a datetime with its time zone"
    if isinstance(model_field, models.DateField):
        return "a date (YYYY-MM-DD)"
    if isinstance(model_field, models.DecimalField):
        return "a number"
    if isinstance(model_field, models.IntegerField):
        return "a whole number"
    if isinstance(model_field, models.BooleanField):
        return "true or false"
    if isinstance(model_field, models.CharField | models.TextField):
        return "text (quote it if YAML reads it as something else, e.g. 'no' or 'yes')"
    return f"a value for a {type(model_field).__name__} (not read from data files)"


def _convert(model_field, value):
    if isinstance(model_field, models.JSONField):
        return value
    if isinstance(value, bool):
        return value if isinstance(model_field, models.BooleanField) else _WRONG
    if isinstance(model_field, models.DateTimeField):
        return _datetime(value)
    if isinstance(model_field, models.DateField):
        if isinstance(value, str):
            return _parsed(date.fromisoformat, value)
        return value if isinstance(value, date) and not isinstance(value, datetime) else _WRONG
    if isinstance(model_field, models.DecimalField):
        return _parsed(Decimal, str(value)) if isinstance(value, int | float | str) else _WRONG
    if isinstance(model_field, models.IntegerField):
        return value if isinstance(value, int) else _WRONG
    if isinstance(model_field, models.CharField | models.TextField):
        # A clause number written 3 is the clause "3"; a float or a date is not text.
        return value if isinstance(value, str) else str(value) if isinstance(value, int) else _WRONG
    return _WRONG


def _datetime(value):
    if isinstance(value, str):
        value = _parsed(datetime.fromisoformat, value)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else _WRONG
    if isinstance(value, date):
        # Only the day is known: midnight UTC, the same calendar day in the region (UTC+2/+3 for Syria).
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return _WRONG


def _parsed(parse, text: str):
    try:
        return parse(text)
    except (ValueError, InvalidOperation):
        return _WRONG


# --- references -----------------------------------------------------------------------------------------------------


def _reference(entry: Entry, key: str, kind: str, value):
    """A reference as written, checked for shape: one name, a list of names, aliases or citations."""
    if kind in {"actors", "clauses", "violations"}:
        if not isinstance(value, list) or not all(_is_name(v) for v in value):
            raise entry.error(f"{key}: expected a list of names, e.g. [a, b] (got {value!r}).")
        return [str(v) for v in value]
    if kind == "aliases":
        return [_alias(entry, key, alias) for alias in _as_list(entry, key, value)]
    if kind == "citations":
        return [_citation(entry, key, citation) for citation in _as_list(entry, key, value)]
    if value is None and kind != "key":
        return None
    if not _is_name(value):
        raise entry.error(f"{key}: expected one name (got {value!r}).")
    return str(value)


def _is_name(value) -> bool:
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, int) and not isinstance(value, bool)


def _as_list(entry: Entry, key: str, value) -> list:
    if not isinstance(value, list):
        raise entry.error(f"{key}: expected a list (got {value!r}).")
    return value


def _alias(entry: Entry, key: str, alias) -> tuple[str, str]:
    if isinstance(alias, str) and alias:
        return alias, ""
    if isinstance(alias, dict) and len(alias) == 1:
        ((language, name),) = alias.items()
        if isinstance(language, str) and isinstance(name, str) and name:
            return name, language
    raise entry.error(
        f"{key}: {alias!r} is neither a name nor {{language: name}} (quote a language YAML reads as true/false)."
    )


def _citation(entry: Entry, key: str, citation) -> tuple[str, str]:
    if _is_name(citation):
        return str(citation), ""
    if isinstance(citation, dict) and set(citation) <= {"source", "note"} and _is_name(citation.get("source")):
        note = citation.get("note", "")
        if isinstance(note, str):
            return str(citation["source"]), note
    raise entry.error(f"{key}: {citation!r} is neither a source key nor {{source: key, note: text}}.")


# A reference's kind → the section whose entries it names (actors may also name actors already in the database).
_TARGETS = {
    "clause": "clauses",
    "clauses": "clauses",
    "place": "places",
    "violation": "violations",
    "violations": "violations",
    "source": "sources",
    "citations": "sources",
}


def _named(entry: Entry, key: str, kind: str) -> list[str]:
    value = entry.refs.get(key)
    if kind == "citations":
        return [source for source, _ in value or []]
    return value if isinstance(value, list) else [] if value is None else [value]


def _check_references(data: AgreementData) -> None:
    """Every clause, place, violation and source named exists in the files."""
    known = {name: {entry.name for entry in data.sections.get(name, [])} for name in set(_TARGETS.values())}
    for entries in data.sections.values():
        for entry in entries:
            for key, kind in SECTIONS[entry.section].refs.items():
                target = _TARGETS.get(kind)
                for name in _named(entry, key, kind) if target else []:
                    if name not in known[target]:
                        noun = SECTIONS[target].model._meta.verbose_name
                        raise entry.error(f"{key}: no {noun} {name!r} in {data.directory}.")
