"""The internal rate card: versioned prices on top of list prices, changed only by publishing.

The newest version is in force. Publishing takes the fields it is given and carries the others
over from the version in force, refuses a card that changes nothing, and writes one audit event
on the platform chain (``tenant_id=None``) in the same transaction. Until the first card is
published, the documented defaults below are in force as version 0 (never stored).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from chargeback.models import OverheadAllocation, RateCard
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict, InvalidRequest
from tenants.models import Tenant

# The defaults, documented in README ("Prices and estimates"): a 10% platform markup on list
# prices and $100 per monitored model-month (the seeds say $50-200 is typical); no overhead yet.
DEFAULT_RATE_CARD: dict[str, Any] = {
    "currency": "USD",
    "markup_percent": Decimal("10"),
    "monitoring_fee_per_model_month": Decimal("100"),
    "storage_price_per_gb_month": None,
    "overhead_allocation": OverheadAllocation.EVEN,
    "overhead_weights": {},
    "overhead_monthly": Decimal("0"),
}
RATE_FIELDS = tuple(DEFAULT_RATE_CARD)
MAX_MARKUP = Decimal(1000)


def rate_card_values(card: RateCard) -> dict[str, Any]:
    return {name: getattr(card, name) for name in RATE_FIELDS}


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Amounts as plain decimal strings ("15", not "15.0000") for the audit trail."""
    return {
        name: format(value.normalize(), "f") if isinstance(value, Decimal) else value
        for name, value in values.items()
    }


def rate_card_defaults() -> RateCard:
    """Version 0: the documented defaults, in force until a platform admin publishes a card.

    Not stored, so reading prices never writes and the first published card is version 1.
    """
    return RateCard(
        version=0,
        note="The portal's default rate card (nothing published yet).",
        created_by_label="defaults",
        **DEFAULT_RATE_CARD,
    )


def rate_card_in_force() -> RateCard:
    """The newest published rate card, else the defaults (version 0)."""
    return RateCard.objects.order_by("-version").first() or rate_card_defaults()


def _weights(allocation: str, weights: dict[str, Any]) -> dict[str, str]:
    if allocation != OverheadAllocation.WEIGHTS:
        if weights:
            raise InvalidRequest(
                "overhead_weights apply only when overhead_allocation is 'weights'; "
                "leave them out or switch the allocation to 'weights'."
            )
        return {}
    if not weights:
        raise InvalidRequest(
            "overhead_allocation 'weights' needs overhead_weights: a weight per tenant slug, "
            'for example {"acme-retail": 3, "bravo-marketing": 1}.'
        )
    cleaned = {}
    for slug, weight in weights.items():
        try:
            value = Decimal(str(weight))
        except ArithmeticError:
            value = Decimal(-1)
        if not value.is_finite() or value <= 0:
            raise InvalidRequest(f"The overhead weight of '{slug}' must be a number above 0.")
        cleaned[str(slug)] = format(value.normalize(), "f")
    unknown = set(cleaned) - set(
        Tenant.objects.filter(slug__in=cleaned).values_list("slug", flat=True)
    )
    if unknown:
        raise InvalidRequest(
            f"overhead_weights name tenants that do not exist: {', '.join(sorted(unknown))}."
        )
    return cleaned


def _validate(values: dict[str, Any]) -> dict[str, Any]:
    if values["overhead_allocation"] not in OverheadAllocation.values:
        raise InvalidRequest(
            f"overhead_allocation must be one of: {', '.join(OverheadAllocation.values)}."
        )
    money = {
        "markup_percent": values["markup_percent"],
        "monitoring_fee_per_model_month": values["monitoring_fee_per_model_month"],
        "overhead_monthly": values["overhead_monthly"],
    }
    if values["storage_price_per_gb_month"] is not None:
        money["storage_price_per_gb_month"] = values["storage_price_per_gb_month"]
    for name, value in money.items():
        if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
            raise InvalidRequest(f"{name} must be a decimal amount of 0 or more.")
    if values["markup_percent"] > MAX_MARKUP:
        raise InvalidRequest(f"markup_percent must be at most {MAX_MARKUP}.")
    values["overhead_weights"] = _weights(
        values["overhead_allocation"], dict(values["overhead_weights"] or {})
    )
    return values


@transaction.atomic
def rate_card_publish(
    *, actor: Actor, user: Any = None, note: str = "", **changes: Any
) -> RateCard:
    """Publish a new version: ``changes`` over the version in force (or the defaults)."""
    unknown = set(changes) - set(RATE_FIELDS)
    if unknown:
        raise InvalidRequest(f"A rate card has no field {', '.join(sorted(unknown))}.")
    newest = RateCard.objects.select_for_update().order_by("-version").first()
    in_force = newest or rate_card_defaults()
    values = _validate({**rate_card_values(in_force), **changes})
    if values == rate_card_values(in_force):
        raise Conflict(f"This is already rate card version {in_force.version}; nothing changed.")
    card = RateCard.objects.create(
        version=in_force.version + 1,
        note=note[:500],
        created_by=user,
        created_by_label=actor.label,
        **values,
    )
    audit_record(
        actor=actor,
        action="rate_card.published",
        object_type="rate_card",
        object_id=card.pk,
        tenant_id=None,
        before={"version": in_force.version, **_plain(rate_card_values(in_force))},
        after={"version": card.version, "note": card.note, **_plain(values)},
    )
    return card
