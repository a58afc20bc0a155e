from base64 import b64decode
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError

INVALID_CURSOR = "Invalid cursor: use the `next` or `previous` link of a page as it was given."


class CursorPagination(pagination.CursorPagination):
    """Cursor pages: stable under inserts (a dashboard paging through never sees a row twice or misses one).

    Each view's `ordering` ends with a unique field, so the order is total. `page_size` is capped.

    A cursor is opaque but not signed, so it is checked before it reaches a query: one that does not decode, or whose
    position is not a value of the ordering field (text where an id goes, a time without a time zone, a NUL), is a
    400 naming `cursor` — DRF answers 404 for the first and the database fails on the second.
    """

    page_size_query_param = "page_size"
    page_size = settings.API_PAGE_SIZE
    max_page_size = settings.API_MAX_PAGE_SIZE
    ordering = ("-id",)

    def paginate_queryset(self, queryset, request, view=None):
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            encoded = request.query_params.get(self.cursor_query_param)
            if encoded is not None:
                b64decode(encoded.encode("ascii"), validate=True)  # DRF's decoding skips what is not base64
            cursor = super().decode_cursor(request)
        except (NotFound, ValueError):
            raise ValidationError({"cursor": [INVALID_CURSOR]}) from None
        if cursor is not None and cursor.position is not None:
            self.check_position(cursor.position)
        return cursor

    def check_position(self, position: str) -> None:
        # DRF filters with the position as given (a string), and compares it as a string with the positions it
        # reads from rows; so it is only checked here, not replaced by the parsed value.
        field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
        if position == "None" and field.null:
            # DRF writes a row's NULL as "None" and cannot filter past it: its own `next` link leads here.
            raise ValidationError(
                {"cursor": [f"Pages ordered by {field.name} cannot go past rows without one; order by another field."]}
            )
        try:
            if "\x00" in position:
                raise ValueError("NUL")
            value = field.to_python(position)
            # Positions the API writes are UTC times; another offset (+16:56 is more than PostgreSQL takes) is forged.
            if isinstance(value, datetime) and value.utcoffset() != timedelta(0):
                raise ValueError("not UTC")
        except (DjangoValidationError, ValueError):
            raise ValidationError({"cursor": [INVALID_CURSOR]}) from None
