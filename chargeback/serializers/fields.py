"""Fields the chargeback API shares: money rounded to cents, a calendar month."""

from __future__ import annotations

from decimal import ROUND_HALF_UP

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chargeback.services.close import MONTH_PATTERN


def cents(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=20, decimal_places=2, rounding=ROUND_HALF_UP, read_only=True, **kwargs
    )


@extend_schema_field({"type": "string", "pattern": MONTH_PATTERN, "example": "2026-10"})
class MonthField(serializers.DateField):
    """A calendar month, shown as YYYY-MM."""

    def __init__(self, **kwargs) -> None:
        super().__init__(format="%Y-%m", **kwargs)
