"""The filters of a unit's catalog (its page and GET /api/v1/tenants/<t>/models/) and of the
unassigned models (their page and GET /api/v1/catalog/unassigned/)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from portal.catalog.models import RegisteredModel, UnassignedModel
from portal.catalog.selectors import ORDERINGS
from portal.core.filters import ListFilter

UNCLASSIFIED = "unclassified"
RISK_TIERS = [
    ("high", "high"),
    ("limited", "limited"),
    ("minimal", "minimal"),
    ("prohibited", "prohibited"),
    (UNCLASSIFIED, "not classified yet"),
]
GONE = {"active": False, "gone": True}


class CatalogFilter(ListFilter):
    q = django_filters.CharFilter(
        method="search",
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "name or description"}),
    )
    tag = django_filters.CharFilter(
        method="tagged",
        label="Tag",
        widget=forms.TextInput(attrs={"placeholder": "key or key=value"}),
    )
    owner = django_filters.CharFilter(lookup_expr="iexact", label="Owner")
    alias = django_filters.CharFilter(
        field_name="aliases",
        lookup_expr="has_key",
        label="Alias",
    )
    status = django_filters.ChoiceFilter(
        choices=[("active", "in MLflow"), ("gone", "gone from MLflow")],
        method="in_mlflow",
        empty_label="any",
        label="Status",
    )
    risk_tier = django_filters.ChoiceFilter(
        choices=RISK_TIERS, method="of_risk_tier", empty_label="any", label="Risk tier"
    )
    ordering = django_filters.ChoiceFilter(
        choices=[
            ("name", "name A-Z"),
            ("-name", "name Z-A"),
            ("-updated", "recently updated"),
            ("updated", "least recently updated"),
        ],
        method="ordered",
        empty_label=None,
        label="Ordering",
    )

    class Meta:
        model = RegisteredModel
        fields: list[str] = []

    def search(
        self, models: QuerySet[RegisteredModel], name: str, text: str
    ) -> QuerySet[RegisteredModel]:
        return models.filter(Q(name__icontains=text) | Q(description__icontains=text))

    def tagged(
        self, models: QuerySet[RegisteredModel], name: str, tag: str
    ) -> QuerySet[RegisteredModel]:
        key, has_value, value = tag.partition("=")
        if has_value:
            return models.filter(**{f"mlflow_tags__{key}": value})
        return models.filter(mlflow_tags__has_key=key)

    def in_mlflow(
        self, models: QuerySet[RegisteredModel], name: str, status: str
    ) -> QuerySet[RegisteredModel]:
        return models.filter(gone_from_mlflow=GONE[status])

    def of_risk_tier(
        self, models: QuerySet[RegisteredModel], name: str, tier: str
    ) -> QuerySet[RegisteredModel]:
        return models.filter(risk_tier="" if tier == UNCLASSIFIED else tier)

    def ordered(
        self, models: QuerySet[RegisteredModel], name: str, ordering: str
    ) -> QuerySet[RegisteredModel]:
        return models.order_by(ORDERINGS[ordering], "pk")


class UnassignedFilter(ListFilter):
    """The search of the models in MLflow that match no unit (platform admins)."""

    q = django_filters.CharFilter(
        method="search",
        max_length=256,
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "name, tag key or value"}),
    )

    class Meta:
        model = UnassignedModel
        fields: list[str] = []

    def search(
        self, models: QuerySet[UnassignedModel], name: str, text: str
    ) -> QuerySet[UnassignedModel]:
        # Tags are a small JSON object: matched as text, keys and values alike.
        return models.annotate(tags_text=Cast("mlflow_tags", TextField())).filter(
            Q(name__icontains=text) | Q(tags_text__icontains=text)
        )
