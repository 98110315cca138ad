"""Bounded page-number pagination: ``?page=N&page_size=M`` with M at most API_MAX_PAGE_SIZE.

A ``page_size`` that is not a whole number from 1 up is refused with a 400 (an empty one counts as
not given); a larger one than the maximum is cut to the maximum.
"""

from typing import Any

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request: Any) -> int:
        given = request.query_params.get(self.page_size_query_param)
        if not given:
            return self.page_size
        if not given.isascii() or not given.isdigit() or int(given) < 1:
            wanted = f"Give a whole number from 1 to {self.max_page_size}."
            raise ValidationError({self.page_size_query_param: [wanted]})
        return min(int(given), self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters
