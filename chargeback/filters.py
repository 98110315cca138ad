"""The filters of the statement and price lists, each for its page and its API."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django_filters.constants import EMPTY_VALUES
from drf_spectacular.utils import extend_schema_field

from chargeback.forms import MonthField
from chargeback.models import PriceItem, PriceService, Statement, StatementState
from chargeback.services.close import MONTH_PATTERN, parse_month
from portal.core.filters import ListFilter, SlugFilter

# The finance queue's filters; the API also filters by tenant, and calls the month ``period``.
STATEMENT_PAGE_FILTERS = ("state", "month")
PRICE_PAGE_FILTERS = ("q", "service", "source")


@extend_schema_field({"type": "string", "pattern": MONTH_PATTERN})
class MonthFilter(django_filters.CharFilter):
    """Records of a calendar month written YYYY-MM."""

    field_class = MonthField

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if value in EMPTY_VALUES:
            return qs
        return qs.filter(**{self.field_name: parse_month(value)})


class StatementFilter(ListFilter):
    state = django_filters.ChoiceFilter(
        choices=StatementState.choices, empty_label="any state", label="State"
    )
    month = MonthFilter(field_name="period__month", label="Month")
    period = MonthFilter(field_name="period__month", help_text="YYYY-MM")
    tenant = SlugFilter(field_name="tenant__slug", help_text="A tenant's slug.")

    class Meta:
        model = Statement
        fields: list[str] = []

    # Money is not listed on a filter the page cannot read.
    nothing_while_invalid = True


class PriceFilter(ListFilter):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "instance type, SKU, region, description"}),
    )
    service = django_filters.ChoiceFilter(
        choices=PriceService.choices, empty_label="any service", label="Service"
    )
    instance_type = django_filters.CharFilter(max_length=64)
    source = django_filters.CharFilter(
        field_name="snapshot__source__name", max_length=64, help_text="A source's name."
    )
    region = django_filters.CharFilter(max_length=64)

    class Meta:
        model = PriceItem
        fields: list[str] = []

    def __init__(self, *args: Any, sources: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if sources is not None:
            # The page chooses among the sources it shows; the API takes any name.
            self.offer(
                "source",
                django_filters.ChoiceFilter(
                    field_name="snapshot__source__name",
                    choices=[(name, name) for name in sources],
                    empty_label="every source",
                    label="Source",
                ),
            )

    def search(self, items: QuerySet[PriceItem], name: str, text: str) -> QuerySet[PriceItem]:
        if not (text := text.strip()):
            return items
        return items.filter(
            Q(instance_type__icontains=text)
            | Q(sku__icontains=text)
            | Q(region__icontains=text)
            | Q(description__icontains=text)
        )
