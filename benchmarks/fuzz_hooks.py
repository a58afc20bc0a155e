"""Schemathesis hooks for `make fuzz` (benchmarks/fuzz.py): what a schema-valid request may still be refused for.

Schemathesis' positive_data_acceptance expects a request that matches the schema to be answered 2xx (or 401, 403,
404, 409, 429). Some refusals depend on what no schema can say, and the fuzzer cannot avoid them: a made-up id names
no row. benchmarks/fuzz.toml lets that check accept 400, 412 and 422; `refused_only_for_what_the_schema_cannot_say`
then holds each such answer to the reason that allows it, so that the rest of the schema stays under test:

- 400 naming only fields listed in BEYOND_THE_SCHEMA for the operation, or a list's `cursor` (opaque: a valid one
  comes only from a page's `next` and `previous` links);
- 412 `precondition_failed` where the operation compares If-Match with the record's version (a made-up ETag names
  no version);
- 422 `idempotency_key_reused` on a POST with an Idempotency-Key (the fuzzer sends the same few keys everywhere).

`read_only_token_never_writes` fails any write the read-only token gets through (403 is one of the answers
positive_data_acceptance takes, and so is 2xx); fuzz.py sets FUZZ_READ_ONLY_TOKEN=1 for that pass.

With FUZZ_REFUSALS_LOG set to a file, every refusal of a positive case is written there, one JSON line each.
"""

from __future__ import annotations

import ast
import json
import os
import threading

import schemathesis
from schemathesis.core import NOT_SET
from schemathesis.core.jsonschema import make_validator

# Hypothesis describes the lambdas of its strategies by parsing their source with ast.parse; with two workers two
# threads parse at once, and CPython 3.11 then fails now and then with "SystemError: AST constructor recursion
# depth mismatch" (a Runtime Error in the report that has nothing to do with the API). One parse at a time.
_parse = ast.parse
_parse_lock = threading.Lock()


def _serialized_parse(*args, **kwargs):
    with _parse_lock:
        return _parse(*args, **kwargs)


ast.parse = _serialized_parse

# An error about no one field: the record's state (already retired; a review step its status does not allow), or a
# rule across rows (a place's name is unique within its district).
NO_FIELD = ""

# Rules across fields, or between a field and the rows the database holds (README, "Rules the database holds" and
# what the services check), per body: an id or slug must name a row (of the same agreement, for clauses and zones),
# a slug or name must be unique, an end must come after its start, a low estimate must not exceed the best one.
# URLs: Django's URLValidator also judges the host (labels, length, top-level domain), which the schema leaves to it.
_WRITES = {
    "actors": {"slug", "name", "part_of", "backed_by"},
    "agreements": {"slug", "amends", "relation", "parties", "in_force_from", "in_force_until", "source_url"},
    "assessments": {"clause", "actor", "period_end", "score"},
    "clauses": {"agreement", "number", "obligated_actors", "terms"},
    "zones": {"agreement", "clause", "slug", "geometry", "depth_km_min", "depth_km_max"},
    "places": {"latitude", "longitude", "pcode", NO_FIELD},
    "patrols": {"agreement", "clause", "participants", "incidents", "source"},
    "route-statuses": {"agreement", "clause", "source"},
    "control-changes": {"agreement", "place", "from_actor", "to_actor", "violation", "source", "area_description"},
    "violations": {
        *("agreement", "clauses", "perpetrators", "affected_actors", "place", "latitude", "longitude", "new_sources"),
        *("ended_at", "killed_low", "killed_best", "killed_high", "injured_low", "injured_best", "injured_high"),
        *("civilians_killed_low", "civilians_killed_best", "civilians_killed_high"),
        *("civilians_injured_low", "civilians_injured_best", "civilians_injured_high"),
    },
}
_DETAIL_KEY = {"violations": "uuid", "agreements": "slug"}
# Fields an update may send but not change: what an assessment is of (its clause, actor and period).
_FIXED = {"assessments": {"clause", "actor", "period_start", "period_end"}}

BEYOND_THE_SCHEMA: dict[str, set[str]] = {
    # An actor named must exist; a period ends on or after its start, and a timeline has at most MAX_STEPS steps.
    "GET /api/v1/agreements/{slug}/compliance": {"actor", "to"},
    "GET /api/v1/agreements/{slug}/compliance/timeline": {"actor", "to", "step"},
    # bbox: min ≤ max, across its four numbers.
    "GET /api/v1/places/": {"bbox"},
    "GET /api/v1/violations/": {"bbox"},
    "GET /api/v1/stats/violations": {"bbox"},
    # An agreement and an actor named by slug must exist; the period ends on or after its start.
    "POST /api/v1/reports/": {"agreement", "actor", "to"},
}
# Records that are retired rather than deleted: an edit of a retired one is refused, as is retiring it again.
_RETIRABLE = {"clauses", "zones", "patrols", "route-statuses", "control-changes", "assessments"}
for _resource, _fields in _WRITES.items():
    _detail = f"/api/v1/{_resource}/{{{_DETAIL_KEY.get(_resource, 'id')}}}/"
    BEYOND_THE_SCHEMA[f"POST /api/v1/{_resource}/"] = _fields
    _edits = _fields | {NO_FIELD} if _resource in _RETIRABLE else _fields
    BEYOND_THE_SCHEMA[f"PUT {_detail}"] = _edits | _FIXED.get(_resource, set())
    BEYOND_THE_SCHEMA[f"PATCH {_detail}"] = _edits | _FIXED.get(_resource, set())
    # Retiring what is already retired.
    BEYOND_THE_SCHEMA[f"POST {_detail}retire/"] = {NO_FIELD}
# A review step that the violation's status does not allow, or verifying one without a source or a perpetrator.
for _step in ("verify", "dispute", "reject", "reopen", "retract"):
    BEYOND_THE_SCHEMA[f"POST /api/v1/violations/{{uuid}}/{_step}/"] = {NO_FIELD}

_VERSIONED = (("violations", "uuid"), ("clauses", "id"), ("zones", "id"), ("places", "id"), ("assessments", "id"))
IF_MATCH_OPERATIONS = {
    f"{method} /api/v1/{resource}/{{{key}}}/" for method in ("PUT", "PATCH") for resource, key in _VERSIONED
} | {f"POST /api/v1/violations/{{uuid}}/{step}/" for step in ("verify", "dispute", "reject", "reopen", "retract")}


def _error(response) -> tuple[str | None, set[str]]:
    try:
        error = response.json()["error"]
        return error["code"], set(error["fields"])
    except (ValueError, KeyError, TypeError):
        return None, set()


def _body_matches_schema(case) -> bool:
    """Whether the body really is what the operation takes. Schemathesis marks a few bodies positive that are not
    (the coverage phase now and then adds a property it saw in a response), and those prove nothing here."""
    if case.body is NOT_SET or case.body is None:
        return True
    declared = case.operation.get_body_for_media_type(case.media_type)
    if declared is None:
        return True
    validator_cls = case.operation.schema.adapter.jsonschema_validator_cls
    try:
        return make_validator(declared.optimized_schema, validator_cls).is_valid(case.body)
    except Exception:
        return True  # a body the validator cannot read is judged as sent


def _allowed_400(case, fields: set[str]) -> bool:
    allowed = set(BEYOND_THE_SCHEMA.get(case.operation.label, ()))
    if case.method == "GET" and "cursor" in (case.query or {}):
        allowed.add("cursor")
    return (fields or {NO_FIELD}) <= allowed


@schemathesis.check
def refused_only_for_what_the_schema_cannot_say(ctx, response, case):
    """A schema-valid request answered 400, 412 or 422 was refused for a reason no schema can express."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code not in (400, 412, 422):
        return None
    code, fields = _error(response)
    label = case.operation.label
    if log := os.environ.get("FUZZ_REFUSALS_LOG"):
        entry = {"operation": label, "status": response.status_code, "code": code, "fields": sorted(fields)}
        with open(log, "a") as out:
            out.write(json.dumps(entry) + "\n")
    if response.status_code == 412:
        allowed = code == "precondition_failed" and label in IF_MATCH_OPERATIONS
    elif response.status_code == 422:
        allowed = code == "idempotency_key_reused" and case.method == "POST" and "Idempotency-Key" in case.headers
    else:
        allowed = code == "invalid" and _allowed_400(case, fields)
    if not allowed and _body_matches_schema(case):
        raise AssertionError(
            f"A schema-valid request was refused with {response.status_code} ({code}; fields: "
            f"{', '.join(sorted(fields)) or 'none'}): the schema should say why"
        )
    return None


@schemathesis.check
def read_only_token_never_writes(ctx, response, case):
    """With the read-only token, every POST, PUT, PATCH and DELETE is refused."""
    if os.environ.get("FUZZ_READ_ONLY_TOKEN") != "1" or case.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if 200 <= response.status_code < 300:
        raise AssertionError(f"A read-only token's {case.method} was answered {response.status_code}")
    return None
