"""Filters of the governance pages."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder

from governance.policy import APPROVER_ROLES
from governance.services.approvals import requirements_text
from portal.catalog.models import RiskTier

register = template.Library()


@register.filter
def needs(requirements: dict[str, int]) -> str:
    """What an approval request needs, in words: ``2 governance leads``."""
    return requirements_text(requirements or {})


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, indent=2, sort_keys=True, ensure_ascii=False)


@register.filter
def role_label(role: str) -> str:
    """An approver role in words: ``governance lead``, ``owner of the unit``."""
    return APPROVER_ROLES.get(role, role)


@register.filter
def tier_label(tier: str) -> str:
    """A risk tier in words: ``High risk``."""
    return RiskTier(tier).label if tier in RiskTier.values else tier


@register.filter
def duration(delta: timedelta | None) -> str:
    """A length of time to the second below a minute, else in its two largest units."""
    if delta is None:
        return ""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
