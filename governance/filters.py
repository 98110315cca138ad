"""The filters of governance's lists, each for its page and the API that lists the same records."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from governance.models import Incident, IncidentSeverity, IncidentStatus
from portal.filters import ListFilter


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
