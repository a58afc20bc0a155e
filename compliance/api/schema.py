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
    "428": "If-Match is required to update a violation.",
    "429": "Too many requests: retry after the seconds in Retry-After.",
}

WRITES = {"post", "put", "patch"}
# Operations that compare an If-Match header with the record's current version (violations and assessments).
IF_MATCH_PATHS = ("/api/v1/violations/{", "/api/v1/assessments/{")


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
        # Updates, and the review steps (POST …/{uuid}/verify/ and the others), which take an optional If-Match.
        return path.startswith(IF_MATCH_PATHS) and method in WRITES
    if code == "428":
        return path.startswith("/api/v1/violations/{") and method in {"put", "patch"}
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
