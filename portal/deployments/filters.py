"""The filters of a unit's deployments, for the list page and GET /api/v1/tenants/<t>/deployments/."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from portal.core.filters import ListFilter
from portal.deployments.models import Deployment, DeploymentState, Environment

SORTS = [("endpoint", "endpoint, newest revision first"), ("newest", "newest request first")]
# Without a sort the page lists by endpoint and the API newest first.
ORDERINGS = {"endpoint": ("name", "-revision"), "newest": ("-created_at", "-id")}


class DeploymentFilter(ListFilter):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "endpoint or model name"}),
    )
    state = django_filters.ChoiceFilter(
        choices=DeploymentState.choices, empty_label="any state", label="State"
    )
    environment = django_filters.ChoiceFilter(
        choices=Environment.choices, empty_label="any environment", label="Environment"
    )
    sort = django_filters.ChoiceFilter(
        choices=SORTS, empty_label=None, label="Sort by", method="sort_by"
    )

    class Meta:
        model = Deployment
        fields: list[str] = []

    def search(
        self, deployments: QuerySet[Deployment], name: str, text: str
    ) -> QuerySet[Deployment]:
        if not (text := text.strip()):
            return deployments
        return deployments.filter(
            Q(name__icontains=text) | Q(model_version__model__name__icontains=text)
        )

    def sort_by(
        self, deployments: QuerySet[Deployment], name: str, sort: str
    ) -> QuerySet[Deployment]:
        return deployments.order_by(*ORDERINGS[sort])

    @property
    def newest_first(self) -> bool:
        """Whether the list is sorted by request, newest first, rather than by endpoint."""
        return self.is_valid() and self.form.cleaned_data.get("sort") == "newest"
