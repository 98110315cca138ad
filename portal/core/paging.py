"""Pagination of the portal's lists: one page of a list, and the links to the others.

Every list page shows ``?page=N`` of its items and carries its search and filters on to the other
pages (``templates/portal/_pagination.html`` reads ``page`` and ``query``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict

PAGE_SIZE = 25


def paginate(
    request: HttpRequest,
    items: QuerySet[Any] | Sequence[Any],
    *,
    per_page: int = PAGE_SIZE,
    data: QueryDict | None = None,
) -> dict[str, Any]:
    """The page the request asks for (the last page when past the end, the first when the
    number is not one) and the request's other parameters, url-encoded, for the page links.

    ``data`` stands in for the request's query when the page fills in defaults of its own.
    Returns the template context: ``{"page": ..., "query": ...}``.
    """
    data = request.GET if data is None else data
    page = Paginator(items, per_page).get_page(request.GET.get("page"))
    query = data.copy()
    query.pop("page", None)
    return {"page": page, "query": query.urlencode()}
