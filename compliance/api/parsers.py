"""The API's one body parser: JSON, refused with a 400 before any view sees it when it could hurt later.

- Nesting deeper than MAX_DEPTH: no write of ours nests more than a few levels (clause terms, zone geometry), and
  deep documents blow the recursion limit in the decoder or, later, in validation and error rendering.
- NUL characters in strings or keys: PostgreSQL text cannot hold them, so they would surface as a database error.
- NaN, Infinity and numbers that overflow to them: not JSON, and nothing downstream can store them.
- Integers longer than 20 digits: no id, count or coordinate; refused naming the field, as NUL characters are.
- Bytes that are not UTF-8.

The size of the body is capped before it is read (compliance.middleware answers 413).
"""

import json
import math

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

MAX_DEPTH = 32


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"The number {text[:40]} is out of range.")
    return value


class _TooLong:
    """An integer past 20 digits, kept as found so that check_document can name the field it is in."""

    def __init__(self, text: str):
        self.text = text


def _bounded_int(text: str) -> int | _TooLong:
    # Past 20 digits no id, count or coordinate of ours is meant; and huge integers overflow float() downstream.
    if len(text.lstrip("-")) > 20:
        return _TooLong(text)
    return int(text)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number.")


def _label(path: list) -> str:
    """`new_sources[0].note` for the path ["new_sources", 0, "note"]; the top level for an empty path."""
    label = ""
    for step in path:
        label += f"[{step}]" if isinstance(step, int) else f".{step}" if label else str(step)
    return label or "body"


def check_document(document) -> None:
    """Raise ParseError when the document nests too deep, ValidationError naming the place of a NUL character.

    Iterative, so a document that made it through the decoder cannot exhaust the stack here either.
    """
    stack = [(document, 0, [])]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels is refused.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and "\x00" in key:
                    raise ValidationError({_label(path) if path else "body": ["A key contains a NUL character."]})
                stack.append((item, depth + 1, [*path, key]))
        elif isinstance(value, str) and "\x00" in value:
            field = _label(path[:1]) if path else "body"
            raise ValidationError({field: [f"{_label(path)} contains a NUL character (\\u0000); remove it."]})
        elif isinstance(value, _TooLong):
            field = _label(path[:1]) if path else "body"
            raise ValidationError({field: [f"{_label(path)}: the integer {value.text[:24]}… is out of range."]})


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with the checks above. DRF reads a JSONParser's body through `request.body`, which enforces
    DATA_UPLOAD_MAX_MEMORY_SIZE (413, see errors.py) even where the middleware's early check did not run."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(f"The body is not UTF-8 (byte {exc.start}).") from None
        try:
            document = json.loads(text, parse_float=_finite, parse_int=_bounded_int, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels is refused.") from None
        except ValueError as exc:  # JSONDecodeError is one; so are the refusals of numbers and constants above
            raise ParseError(f"JSON parse error: {exc}") from None
        check_document(document)
        return document
