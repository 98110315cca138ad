"""The filters above a list: one ``FilterSet`` per list, in the app's ``filters.py``, used by
the list's page and, where the API lists the same records, by the API through
``DjangoFilterBackend`` (``filterset_class`` on the view).

The API answers a 400 with the fields' messages when a value is not valid. A page shows the same
messages next to the fields (``filterset.form``) and, while any value is not valid, lists every
record as if nothing were filtered (``listed``). A list where a filter left out would mislead lists
nothing instead (``nothing_while_invalid``). A page that offers fewer filters than its API names
the ones it shows (``only=``), and where it offers choices among what it shows while the API
takes any value, puts a choice in the place of the API's filter (``offer``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field


class ListFilter(django_filters.FilterSet):
    filters: dict[str, django_filters.Filter]
    nothing_while_invalid = False

    def __init__(self, *args: Any, only: Iterable[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if only is not None:
            self.filters = {name: self.filters[name] for name in only}

    def offer(self, name: str, filter_: django_filters.Filter) -> None:
        """Put ``filter_`` in the place of the filter ``name`` (a page offering choices where its
        API takes any value)."""
        filter_.model = self._meta.model
        filter_.parent = self
        self.filters[name] = filter_

    def listed(self) -> QuerySet[Any]:
        """The filtered records; while a value is not valid, all of them (or none)."""
        if self.is_bound and not self.is_valid():
            return self.queryset.none() if self.nothing_while_invalid else self.queryset.all()
        return self.qs


@extend_schema_field({"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"})
class SlugFilter(django_filters.CharFilter):
    field_class = forms.SlugField
