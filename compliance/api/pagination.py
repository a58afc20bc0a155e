from django.conf import settings
from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """Cursor pages: stable under inserts (a dashboard paging through never sees a row twice or misses one).

    Each view's `ordering` ends with a unique field, so the order is total. `page_size` is capped.
    """

    page_size_query_param = "page_size"
    page_size = settings.API_PAGE_SIZE
    max_page_size = settings.API_MAX_PAGE_SIZE
    ordering = ("-id",)
