"""The filters of governance's lists, each for its page and the API that lists the same records."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from governance.forms import DATETIME_LOCAL
from governance.models import (
    ApprovalRequest,
    ApprovalState,
    AuditEvent,
    Incident,
    IncidentSeverity,
    IncidentStatus,
)
from portal.catalog.models import RiskTier
from portal.core.filters import ListFilter, SlugFilter
from tenants.models import Tenant

# The approval queue's filters; the API does not search or filter by risk tier.
APPROVAL_PAGE_FILTERS = ("q", "state", "risk_tier", "tenant")
# The audit trail's filters; the API also takes an object's id.
AUDIT_PAGE_FILTERS = ("tenant", "action", "object_type", "actor", "since", "until")
PLATFORM = "platform"


def _units(tenants: QuerySet[Tenant]) -> list[tuple[str, str]]:
    return [(t.slug, t.name) for t in tenants.order_by("name")]


class IncidentFilter(ListFilter):
    q = django_filters.CharFilter(
        method="search", max_length=200, label="Search", help_text="Title, description or model."
    )
    status = django_filters.ChoiceFilter(
        choices=IncidentStatus.choices, empty_label="any status", label="Status"
    )
    severity = django_filters.ChoiceFilter(
        choices=IncidentSeverity.choices, empty_label="any severity", label="Severity"
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def search(self, incidents: QuerySet[Incident], name: str, text: str) -> QuerySet[Incident]:
        if not (text := text.strip()):
            return incidents
        return incidents.filter(
            Q(title__icontains=text)
            | Q(description__icontains=text)
            | Q(model__name__icontains=text)
        )


class ApprovalFilter(ListFilter):
    """On the page, ``units`` are the tenants the person sees: the unit filter chooses among them."""

    q = django_filters.CharFilter(
        method="search", max_length=200, label="Search", help_text="Model name or requester."
    )
    state = django_filters.ChoiceFilter(
        choices=ApprovalState.choices, empty_label="any state", label="State"
    )
    risk_tier = django_filters.ChoiceFilter(
        choices=RiskTier.choices, empty_label="any risk tier", label="Risk tier"
    )
    tenant = SlugFilter(field_name="tenant__slug", label="Unit")
    # A queue that left out a filter it cannot read would look like the work to do.
    nothing_while_invalid = True

    class Meta:
        model = ApprovalRequest
        fields: list[str] = []

    def __init__(self, *args: Any, units: QuerySet[Tenant] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is not None:
            self.offer(
                "tenant",
                django_filters.ChoiceFilter(
                    field_name="tenant__slug",
                    choices=_units(units),
                    empty_label="every unit",
                    label="Unit",
                ),
            )

    def search(
        self, approvals: QuerySet[ApprovalRequest], name: str, text: str
    ) -> QuerySet[ApprovalRequest]:
        if not (text := text.strip()):
            return approvals
        return approvals.filter(
            Q(model_version__model__name__icontains=text) | Q(requested_by_label__icontains=text)
        )


class AuditFilter(ListFilter):
    """On the page, the unit filter chooses among every tenant and platform-wide events."""

    tenant = django_filters.CharFilter(
        method="of_tenant", label="Unit", help_text="A tenant slug, or 'platform'."
    )
    action = django_filters.CharFilter(
        method="of_action",
        label="Action",
        help_text="An action such as approval.decided, or a prefix ending in '.' such as approval.",
    )
    object_type = django_filters.CharFilter(label="Object type")
    object_id = django_filters.CharFilter()
    actor = django_filters.CharFilter(
        field_name="actor_label", label="Actor", help_text="A username or a token prefix."
    )
    since = django_filters.DateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        label="Since (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    until = django_filters.DateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        label="Until (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def __init__(self, *args: Any, units: QuerySet[Tenant] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if units is not None:
            choices = [(PLATFORM, "platform-wide events"), *_units(units)]
            self.offer(
                "tenant",
                django_filters.ChoiceFilter(
                    method="of_tenant", choices=choices, empty_label="every unit", label="Unit"
                ),
            )

    def of_tenant(self, events: QuerySet[AuditEvent], name: str, slug: str) -> QuerySet[AuditEvent]:
        if slug == PLATFORM:
            return events.filter(tenant__isnull=True)
        return events.filter(tenant__slug=slug)

    def of_action(
        self, events: QuerySet[AuditEvent], name: str, action: str
    ) -> QuerySet[AuditEvent]:
        if action.endswith("."):
            return events.filter(action__startswith=action)
        return events.filter(action=action)
