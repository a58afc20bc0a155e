"""drf-spectacular post-processing hooks: the one error shape on every operation, Idempotency-Key on POSTs."""

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string", "example": "Invalid input: killed_low: cannot exceed the best estimate."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Messages per input field (empty when the error is not about one field).",
                },
            },
        }
    },
}

RESPONSES = {
    "400": "Invalid input or filter; `fields` names the bad ones.",
    "401": "No valid credentials (send `Authorization: Token KEY`).",
    "403": "Your role or token may not do this (e.g. a read-only token writing).",
    "404": "No such record.",
    "405": "Method not allowed (violations are retracted, never deleted).",
    "409": "Conflict: the record is still referred to.",
    "412": "If-Match names a version that is no longer current: read the record again.",
    "413": "The body is larger than the API accepts (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by default).",
    "415": "The body is not JSON: send `Content-Type: application/json`.",
    "428": "If-Match is required to update a versioned record (violations, places, zones, clauses).",
    "429": "Too many requests: retry after the seconds in Retry-After.",
}

WRITES = {"post", "put", "patch"}
UPDATES = {"put", "patch"}
# Records with a version (agreements/api/base.py): an update must send If-Match (428 without, 412 when stale).
VERSIONED_PATHS = ("/api/v1/violations/{", "/api/v1/clauses/{", "/api/v1/zones/{", "/api/v1/places/{")
# Assessments compare an optional If-Match on update; the review steps of violations (POST …/verify/ and the
# others) take an optional one too.
IF_MATCH_OPTIONAL_PATHS = ("/api/v1/assessments/{",)


def _applies(code: str, method: str, path: str, public: bool, throttled: bool) -> bool:
    if public:
        return False
    if code in {"401", "403", "400"}:
        return True
    if code == "404":
        return "{" in path
    if code == "405":
        return path.startswith("/api/v1/violations/{")
    if code == "409":
        return method in {"post", "put", "patch", "delete"}
    if code in {"413", "415"}:
        return method in WRITES
    if code == "412":
        if method in UPDATES:
            return path.startswith(VERSIONED_PATHS + IF_MATCH_OPTIONAL_PATHS)
        return method == "post" and path.startswith("/api/v1/violations/{")
    if code == "428":
        return path.startswith(VERSIONED_PATHS) and method in UPDATES
    if code == "429":
        return throttled
    return False


def _throttled_operations(generator) -> set[tuple[str, str]]:
    """(path, method) of the operations whose view has throttles: only they can answer 429."""
    throttled = set()
    for path, _, method, callback in getattr(generator, "endpoints", None) or []:
        view = generator.create_view(callback, method)
        if view.get_throttles():
            throttled.add((generator.coerce_path(path, method, view), method.lower()))
    return throttled


def _error_content() -> dict:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    throttled = _throttled_operations(generator)
    for path, operations in result.get("paths", {}).items():
        is_public = not path.startswith("/api/v1/")
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code, description in RESPONSES.items():
                if _applies(code, method, path, is_public, (path, method) in throttled) and code not in responses:
                    responses[code] = {"description": description, "content": _error_content()}
            for code, response in responses.items():
                # An error a view declares by description alone (e.g. the review steps' 412) has the one shape too.
                if not is_public and code.isdigit() and int(code) >= 400 and "content" not in response:
                    response["content"] = _error_content()
    return result


IDEMPOTENCY_KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]+$"},
    "description": "Makes a retry safe: the first request with a key runs; later ones of the same user with the same "
    "key, method, path and body get its answer again (status, body, Location, ETag, with `Idempotent-Replayed: "
    "true`) and write nothing. The same key with another body is 422; while the first request still runs, 409 with "
    "Retry-After. Answers are kept at least 24 hours. Printable ASCII, up to 255 characters: a fresh UUID per "
    "request.",
}
REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
IN_PROGRESS = "Conflict: the record is still referred to, or a request with this Idempotency-Key is still running."
KEY_REUSED = {
    "description": "The Idempotency-Key was used for another request (method, path or body).",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def add_idempotency_key(result, generator, request, public):
    """Documents Idempotency-Key on each POST whose view honours it (compliance.api.idempotency.IdempotentMixin)."""
    from compliance.api.idempotency import IdempotentMixin  # the models behind it load after the settings

    # drf-spectacular spells a `pk` path parameter `id` in the paths it emits.
    idempotent = {
        path.replace("{pk}", "{id}")
        for path, _, method, view in generator.endpoints
        if method == "POST" and issubclass(view.cls, IdempotentMixin)
    }
    for path, operations in result.get("paths", {}).items():
        operation = operations.get("post")
        if operation is None or path not in idempotent:
            continue
        parameters = operation.setdefault("parameters", [])
        if not any(p.get("in") == "header" and p.get("name") == "Idempotency-Key" for p in parameters):
            parameters.append(IDEMPOTENCY_KEY_PARAMETER)
        responses = operation.setdefault("responses", {})
        responses.setdefault("422", KEY_REUSED)
        if "409" in responses:
            responses["409"] = {**responses["409"], "description": IN_PROGRESS}
        for code, response in responses.items():
            if code.startswith("2"):
                response.setdefault("headers", {}).update(REPLAYED_HEADER)
    return result


def allow_empty_query_values(result, generator, request, public):
    """An optional query parameter sent empty (`?place=&page_size=`) is taken as left out, everywhere in the API
    (django-filter's rule, which the views and the paginator follow too). Said in the schema, or a client would
    expect the 400 that a malformed value gets. A list (`?status=`) takes no empty item."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if (
                    parameter.get("in") == "query"
                    and not parameter.get("required")
                    and parameter.get("schema", {}).get("type") != "array"
                ):
                    parameter["allowEmptyValue"] = True
    return result


def _regex_class(characters: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in characters)


# What str.strip() removes, which is what DRF's CharField trims before it checks that a required text is not blank.
_WHITESPACE = "".join(chr(code) for code in range(0x3001) if chr(code).isspace())
# Any text without a NUL character.
NO_NUL = "^[^\\u0000]*$"
# The same, with at least one character that is neither NUL nor whitespace.
NOT_BLANK = f"^[^\\u0000]*[^\\u0000{_regex_class(_WHITESPACE)}][^\\u0000]*$"
# The schemes Django's URLValidator takes (URLField), in any case; what it requires of the host is left to it.
URL = "^([Hh][Tt][Tt][Pp][Ss]?|[Ff][Tt][Pp][Ss]?)://[^\\s\\u0000]+$"


def _describe_text(schema, *, request: bool) -> None:
    if isinstance(schema, list):
        for item in schema:
            _describe_text(item, request=request)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and not {"pattern", "enum", "format"} & set(schema):
        # minLength 1 is how drf-spectacular says "not blank"; only bodies go through DRF's trimming fields.
        schema["pattern"] = NOT_BLANK if request and schema.get("minLength", 0) >= 1 else NO_NUL
    elif request and schema.get("format") == "uri" and "pattern" not in schema:
        schema["pattern"] = URL
    for key in ("properties", "patternProperties"):
        for value in schema.get(key, {}).values():
            _describe_text(value, request=request)
    for key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
        _describe_text(schema.get(key), request=request)


def describe_text_input(result, generator, request, public):
    """What the API takes as text, said on each free-text string of a body, a path or a query (strings with a
    pattern, a format or a list of values are exact already):

    - no NUL character, anywhere: PostgreSQL text cannot hold one, so it is refused with 400 (compliance.middleware,
      compliance.api.parsers);
    - in a body, a required text has a character other than whitespace: DRF trims it before checking it is not
      blank, so "  " is refused like "";
    - a URL in a body is http, https, ftp or ftps (Django's URLField), not any URI.
    """
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            _describe_text(schema, request=True)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") in {"query", "path"}:
                    _describe_text(parameter.get("schema"), request=False)
    return result
