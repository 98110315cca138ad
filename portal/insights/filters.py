"""The inventory's filters and sorts, for its page, the home page's table and
GET /api/v1/inventory/ (``portal.insights.inventory``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.core.paginator import Page
from django.db.models import Exists, F, OrderBy, Q, QuerySet
from django.http import HttpRequest, QueryDict

from governance.models import CardStatus
from governance.models.approvals import CertificationState
from portal.catalog.models import RegisteredModel, RiskTier
from portal.core.filters import ListFilter, SlugFilter
from portal.core.paging import paginate
from portal.deployments.models import Environment
from portal.insights.inventory import (
    DEFAULT_ORDER,
    InventoryRow,
    inventory_ids,
    inventory_listed,
    inventory_rows,
    live_deployments,
    open_incidents,
)
from portal.monitoring.models import DriftLevel
from tenants.models import Tenant
from tenants.selectors import tenants_visible_to

NONE = "none"
# Each sort: its label, and the ordering it gives (ties by unit and name). ``-<sort>`` gives the
# same ordering reversed.
SORTS: dict[str, tuple[str, OrderBy]] = {
    "tier": ("risk tier, riskiest first", F("tier_rank").asc()),
    "unit": ("unit", F("tenant__name").asc()),
    "model": ("model name", F("name").asc()),
    "live": ("most live revisions first", F("live_count").desc()),
    "approvals": ("approval expiring soonest first", F("approval_expiry").asc(nulls_last=True)),
    "recertification": (
        "re-certification due soonest first",
        F("certification__due_at").asc(nulls_last=True),
    ),
    "card": ("card state", F("card_state").asc(nulls_first=True)),
    "verdict": ("drift verdict", F("verdict").asc(nulls_last=True)),
    "incidents": ("most open incidents first", F("open_incident_count").desc()),
}
SORT_CHOICES = [
    *((key, label) for key, (label, _) in SORTS.items()),
    *((f"-{key}", f"{label}, reversed") for key, (label, _) in SORTS.items()),
]

# The table's columns: the sort each heading links to ("" for none), and the heading.
COLUMNS = [
    ("unit", "Unit"),
    ("model", "Model"),
    ("tier", "Risk tier"),
    ("live", "Live endpoints"),
    ("", "Deployments"),
    ("approvals", "Approvals open"),
    ("recertification", "Certification"),
    ("card", "Card"),
    ("verdict", "Drift"),
    ("incidents", "Open incidents"),
]


class InventoryFilter(ListFilter):
    """On the pages, ``units`` are every unit: the unit filter chooses among them."""

    q = django_filters.CharFilter(
        method="search",
        max_length=200,
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "model name"}),
    )
    tenant = SlugFilter(field_name="tenant__slug", label="Unit")
    tier = django_filters.ChoiceFilter(
        choices=[*RiskTier.choices, (NONE, "Not classified")],
        method="of_tier",
        empty_label="any risk tier",
        label="Risk tier",
    )
    environment = django_filters.ChoiceFilter(
        choices=Environment.choices,
        method="live_in",
        empty_label="any environment",
        label="Live in",
    )
    card = django_filters.ChoiceFilter(
        choices=[*CardStatus.choices, (NONE, "No card")],
        method="of_card",
        empty_label="any card state",
        label="Card (newest version)",
    )
    verdict = django_filters.ChoiceFilter(
        choices=DriftLevel.choices,
        method="of_verdict",
        empty_label="any drift verdict",
        label="Drift verdict",
    )
    certification = django_filters.ChoiceFilter(
        choices=[*CertificationState.choices, (NONE, "Not certified")],
        method="of_certification",
        empty_label="any certification",
        label="Certification",
    )
    open_incidents = django_filters.BooleanFilter(
        method="with_open_incidents",
        label="Open incidents",
        widget=forms.Select(choices=[("", "with or without"), ("true", "yes"), ("false", "no")]),
    )
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES,
        method="sort_by",
        empty_label=None,
        label="Sort by",
    )
    # An inventory that left out a filter it cannot read would look like the whole platform.
    nothing_while_invalid = True

    class Meta:
        model = RegisteredModel
        fields: list[str] = []

    def __init__(self, *args: Any, units: QuerySet[Tenant] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is not None:
            self.offer(
                "tenant",
                django_filters.ChoiceFilter(
                    field_name="tenant__slug",
                    choices=[(t.slug, t.name) for t in units.order_by("name")],
                    empty_label="every unit",
                    label="Unit",
                ),
            )

    def search(self, models: QuerySet[Any], name: str, text: str) -> QuerySet[Any]:
        if not (text := text.strip()):
            return models
        return models.filter(name__icontains=text)

    def of_tier(self, models: QuerySet[Any], name: str, tier: str) -> QuerySet[Any]:
        return models.filter(risk_tier="" if tier == NONE else tier)

    def live_in(self, models: QuerySet[Any], name: str, environment: str) -> QuerySet[Any]:
        return models.filter(Exists(live_deployments(environment)))

    def of_card(self, models: QuerySet[Any], name: str, state: str) -> QuerySet[Any]:
        return (
            models.filter(card_state__isnull=True)
            if state == NONE
            else models.filter(card_state=state)
        )

    def of_verdict(self, models: QuerySet[Any], name: str, verdict: str) -> QuerySet[Any]:
        if verdict == DriftLevel.UNKNOWN:
            return models.filter(Q(verdict__isnull=True) | Q(verdict=verdict))
        return models.filter(verdict=verdict)

    def of_certification(self, models: QuerySet[Any], name: str, state: str) -> QuerySet[Any]:
        if state == NONE:
            return models.filter(certification__isnull=True)
        return models.filter(certification__state=state)

    def with_open_incidents(
        self, models: QuerySet[Any], name: str, wanted: bool | None
    ) -> QuerySet[Any]:
        if wanted is None:
            return models
        found = Exists(open_incidents())
        return models.filter(found if wanted else ~found)

    def sort_by(self, models: QuerySet[Any], name: str, sort: str) -> QuerySet[Any]:
        _, ordering = SORTS[sort.removeprefix("-")]
        ordering = ordering.copy()
        if sort.startswith("-"):
            ordering.reverse_ordering()
        return models.order_by(ordering, *DEFAULT_ORDER[1:])


def inventory_filtered(principal: Any, data: Any) -> InventoryFilter:
    """The inventory ``principal`` may see, filtered by ``data`` (a page's query), with the
    units they see to choose among."""
    return InventoryFilter(
        data, queryset=inventory_listed(principal), units=tenants_visible_to(principal)
    )


@dataclass(frozen=True)
class InventoryTable:
    """A page of the filtered inventory as a table shows it, with its filter form and the query
    its page, sort and export links carry on."""

    form: forms.Form
    page: Page
    query: str  # the filters and the sort, without the page
    unsorted: str  # the filters alone, for the sort links
    sort: str
    rows: list[InventoryRow]

    @property
    def headings(self) -> list[tuple[str, str, bool]]:
        """Each column's heading, the sort its link asks for ("" for none: the column does not
        sort), and whether the table is sorted by it; the link of the column sorted by reverses
        the sort."""
        return [
            (
                heading,
                "" if not key else f"-{key}" if self.sort == key else key,
                key != "" and self.sort.removeprefix("-") == key,
            )
            for key, heading in COLUMNS
        ]


def inventory_table(request: HttpRequest, data: QueryDict) -> InventoryTable:
    """The page of the inventory that ``data`` asks for, as ``request``'s person may see it."""
    filters = inventory_filtered(request.user, data)
    listing = paginate(request, inventory_ids(filters.listed()), data=data)
    unsorted = data.copy()
    for name in ("sort", "page"):
        unsorted.pop(name, None)
    return InventoryTable(
        form=filters.form,
        page=listing["page"],
        query=listing["query"],
        unsorted=unsorted.urlencode(),
        sort=data.get("sort", ""),
        rows=inventory_rows(listing["page"].object_list),
    )
