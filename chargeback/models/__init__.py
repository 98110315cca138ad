"""Chargeback: the price catalog, the rate card, metered usage, charges and statements.

Usage events (tenant-owned, one per idempotency key) are rated at the month close into charges
(one per tenant, resource, meter and month, unrounded, with their prices' provenance) and
drafted into one statement per tenant, whose lines are rounded once each (see ``Statement``).

Prices are platform-wide, not tenant-owned: every unit pays the same list prices. A source's
``current_snapshot`` is the snapshot in force; a refresh that finds the same content changes
nothing, and a failed refresh leaves it as it was. Rate cards are versioned: the newest version
is in force and no version is ever edited. Money is ``Decimal`` everywhere.
"""

from chargeback.models.budgets import Budget, BudgetAlert, default_thresholds
from chargeback.models.metering import BillingPeriod, Charge, Meter, PeriodState, UsageEvent
from chargeback.models.prices import (
    HOURS_PER_MONTH,
    PriceItem,
    PriceService,
    PriceSnapshot,
    PriceSource,
    PricingUnit,
    RefreshStatus,
    SourceKind,
)
from chargeback.models.rate_cards import OverheadAllocation, RateCard
from chargeback.models.statements import (
    CreditNote,
    DisputeState,
    LineDispute,
    LineKind,
    Statement,
    StatementLine,
    StatementSequence,
    StatementState,
)

__all__ = [
    "HOURS_PER_MONTH",
    "BillingPeriod",
    "Budget",
    "BudgetAlert",
    "Charge",
    "CreditNote",
    "DisputeState",
    "LineDispute",
    "LineKind",
    "Meter",
    "OverheadAllocation",
    "PeriodState",
    "PriceItem",
    "PriceService",
    "PriceSnapshot",
    "PriceSource",
    "PricingUnit",
    "RateCard",
    "RefreshStatus",
    "SourceKind",
    "Statement",
    "StatementLine",
    "StatementSequence",
    "StatementState",
    "UsageEvent",
    "default_thresholds",
]
