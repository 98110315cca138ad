"""``drift_for``: a deployment's entry in a ``drift_status_by_deployment`` result."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def drift_for(statuses: dict[int, Any] | None, deployment_id: int) -> Any:
    return (statuses or {}).get(deployment_id)
