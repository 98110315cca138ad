"""Filters of the chargeback pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def plain(value: Decimal | None) -> str:
    """A price as written, without trailing zeros or an exponent: 4.4800000000 -> 4.48."""
    if value is None:
        return ""
    return format(value.normalize(), "f")
