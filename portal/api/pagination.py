"""Bounded page-number pagination: ``?page=N&page_size=M`` with M at most API_MAX_PAGE_SIZE."""

from django.conf import settings
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE
