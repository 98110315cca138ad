"""The filters above a list: one ``FilterSet`` per list, in the app's ``filters.py``, used by
the list's page and, where the API lists the same records, by the API through
``DjangoFilterBackend`` (``filterset_class`` on the view).

The API answers a 400 with the fields' messages when a value is not valid. A page shows the same
messages next to the fields (``filterset.form``) and, while any value is not valid, lists every
record as if nothing were filtered (``listed``). A page that offers fewer filters than its API
names the ones it shows (``only=``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_filters
from django.db.models import QuerySet


class ListFilter(django_filters.FilterSet):
    filters: dict[str, django_filters.Filter]

    def __init__(self, *args: Any, only: Iterable[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if only is not None:
            self.filters = {name: self.filters[name] for name in only}

    def listed(self) -> QuerySet[Any]:
        """The filtered records, or all of them while a value is not valid (or none is given)."""
        return self.qs if self.is_valid() else self.queryset.all()
