"""Shapes of the chargeback API. Money is a decimal string; estimates are rounded to cents here."""

from chargeback.serializers.budgets import BudgetSetSerializer, BudgetStatusSerializer
from chargeback.serializers.estimates import EstimatePlanSerializer, EstimateSerializer
from chargeback.serializers.prices import (
    ManualPricesResultSerializer,
    ManualPricesSerializer,
    PriceItemSerializer,
    PriceSourceHealthSerializer,
    PriceSourceSerializer,
)
from chargeback.serializers.rate_cards import RateCardPublishSerializer, RateCardSerializer
from chargeback.serializers.statements import (
    BillingPeriodSerializer,
    ClosePeriodSerializer,
    CreditNoteSerializer,
    CreditSerializer,
    DisputeCreateSerializer,
    DisputeRejectSerializer,
    DisputeSerializer,
    StatementDetailSerializer,
    StatementSerializer,
    VoidSerializer,
)

__all__ = [
    "BillingPeriodSerializer",
    "BudgetSetSerializer",
    "BudgetStatusSerializer",
    "ClosePeriodSerializer",
    "CreditNoteSerializer",
    "CreditSerializer",
    "DisputeCreateSerializer",
    "DisputeRejectSerializer",
    "DisputeSerializer",
    "EstimatePlanSerializer",
    "EstimateSerializer",
    "ManualPricesResultSerializer",
    "ManualPricesSerializer",
    "PriceItemSerializer",
    "PriceSourceHealthSerializer",
    "PriceSourceSerializer",
    "RateCardPublishSerializer",
    "RateCardSerializer",
    "StatementDetailSerializer",
    "StatementSerializer",
    "VoidSerializer",
]
