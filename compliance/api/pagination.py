from base64 import b64decode
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError

INVALID_CURSOR = "Invalid cursor: use the `next` or `previous` link of a page as it was given."
INVALID_PAGE_SIZE = "page_size is a whole number from 1; above {cap} it is {cap}."


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

    def get_page_size(self, request):
        # DRF falls back to the default page size for a page_size it cannot read (`abc`, `0`, `-5`): a client asking
        # for 0 rows, or sending a typo, would get 50 rows and never know. Empty means "the default".
        value = request.query_params.get(self.page_size_query_param, "")
        if value == "":
            return self.page_size
        digits = value.lstrip("0")
        if not (value.isascii() and value.isdigit() and digits):
            raise ValidationError({self.page_size_query_param: [INVALID_PAGE_SIZE.format(cap=self.max_page_size)]})
        # Past 9 digits it is over any cap, and int() refuses thousands of digits.
        return self.max_page_size if len(digits) > 9 else min(int(digits), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = (
                    f"Rows per page, from 1 (default {self.page_size}; above {self.max_page_size} it is "
                    f"{self.max_page_size})."
                )
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = (
                    "Opaque: the `next` or `previous` link of a page carries it. Any other value is refused (400)."
                )
        return parameters

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
