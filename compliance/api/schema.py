"""Documents the one error shape on every operation of the schema (drf-spectacular post-processing hook)."""

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
    "428": "If-Match is required to update a violation.",
}


def _applies(code: str, method: str, path: str, public: bool) -> bool:
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
    if code in {"412", "428"}:
        return path.startswith("/api/v1/violations/{") and method in {"put", "patch"}
    return False


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        is_public = not path.startswith("/api/v1/")
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code, description in RESPONSES.items():
                if _applies(code, method, path, is_public) and code not in responses:
                    responses[code] = {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    }
    return result
