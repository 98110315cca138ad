"""Prices entered by hand: a platform admin adds, changes or removes items of a ``manual`` source.

Each change builds the source's next item list from the snapshot in force (an item is known by
its service, SKU and region: a given item with a known key replaces it, any other is added;
``remove`` names SKUs to drop) and stores it the way refreshes store fetched prices: a new
snapshot with its content hash, nothing new when the content is the one in force, the older
snapshot back in force when the content returns to one seen before. The source is created on
its first change. One audit event on the platform chain records what changed, in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from chargeback.models import PriceItem, PriceService, PriceSource, PricingUnit, SourceKind
from chargeback.price_sources import MAX_PRICE, PRICE_PLACES, ParsedCatalog, ParsedItem
from chargeback.services.prices import (
    RefreshResult,
    price_snapshot_store,
    price_sources_ensure,
)
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict, InvalidRequest

MAX_ITEMS = 5000


@dataclass(frozen=True)
class ManualChange:
    source: PriceSource
    result: RefreshResult
    changed: list[str]
    added: list[str]
    removed: list[str]


def _key(item: ParsedItem) -> tuple[str, str, str]:
    return (item.service, item.sku, item.region)


def _label(item: ParsedItem) -> str:
    return f"{item.service}/{item.sku}" + (f"@{item.region}" if item.region else "")


def _parsed(row: PriceItem) -> ParsedItem:
    return ParsedItem(
        service=row.service,
        sku=row.sku,
        region=row.region,
        instance_type=row.instance_type,
        pricing_unit=row.pricing_unit,
        unit_price=row.unit_price,
        currency=row.currency,
        description=row.description,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
    )


def _item(number: int, given: dict[str, Any]) -> ParsedItem:
    what = f"Item {number}"
    service, unit = given.get("service"), given.get("pricing_unit")
    if service not in PriceService.values:
        raise InvalidRequest(f"{what}: service must be one of {', '.join(PriceService.values)}.")
    if unit not in PricingUnit.values:
        raise InvalidRequest(
            f"{what}: pricing_unit must be one of {', '.join(PricingUnit.values)}."
        )
    instance_type = str(given.get("instance_type") or "").strip()
    if unit == PricingUnit.HOUR and not instance_type:
        raise InvalidRequest(f"{what}: an hourly price needs the instance_type it prices.")
    price = given.get("unit_price")
    if not isinstance(price, Decimal) or not price.is_finite() or not 0 <= price < MAX_PRICE:
        raise InvalidRequest(f"{what}: unit_price must be a number from 0 up to {MAX_PRICE}.")
    currency = str(given.get("currency") or "USD").upper()
    if len(currency) != 3 or not currency.isalpha():
        raise InvalidRequest(f"{what}: currency is a three-letter code such as USD.")
    starts: datetime | None = given.get("effective_from")
    ends: datetime | None = given.get("effective_to")
    if starts and ends and ends <= starts:
        raise InvalidRequest(f"{what}: effective_to must be after effective_from.")
    sku = str(given.get("sku") or "").strip() or f"{service}:{instance_type or unit}"
    return ParsedItem(
        service=service,
        sku=sku[:128],
        region=str(given.get("region") or "").strip()[:64],
        instance_type=instance_type[:64],
        pricing_unit=unit,
        unit_price=price.quantize(PRICE_PLACES),
        currency=currency,
        description=str(given.get("description") or "")[:300],
        effective_from=starts,
        effective_to=ends,
    )


def _locked_manual_source(name: str) -> PriceSource:
    price_sources_ensure()  # the default sources' names are never taken by a manual one
    source, _ = PriceSource.objects.get_or_create(name=name, defaults={"kind": SourceKind.MANUAL})
    source = PriceSource.objects.select_for_update().get(pk=source.pk)
    if source.kind != SourceKind.MANUAL:
        raise Conflict(
            f"The prices of '{name}' come from the {source.get_kind_display()}; only manual "
            "sources take prices by hand. Choose another name for a manual source."
        )
    return source


def _snapshot_summary(source: PriceSource) -> dict[str, Any] | None:
    snapshot = source.current_snapshot
    if snapshot is None:
        return None
    return {
        "snapshot": snapshot.pk,
        "content_hash": snapshot.content_hash,
        "items": snapshot.item_count,
    }


@transaction.atomic
def manual_prices_change(
    *, actor: Actor, name: str, items: list[dict[str, Any]], remove: Sequence[str] = ()
) -> ManualChange:
    """Add or change ``items`` of the manual source ``name`` and drop the SKUs in ``remove``."""
    if not items and not remove:
        raise InvalidRequest("Give items to add or change, or SKUs to remove.")
    source = _locked_manual_source(name)
    before = _snapshot_summary(source)
    current: dict[tuple[str, str, str], ParsedItem] = {}
    if source.current_snapshot_id:
        for row in PriceItem.objects.filter(snapshot_id=source.current_snapshot_id):
            parsed = _parsed(row)
            current[_key(parsed)] = parsed
    added, changed = [], []
    for number, given in enumerate(items, start=1):
        item = _item(number, given)
        known = current.get(_key(item))
        if known is None:
            added.append(_label(item))
        elif known != item:
            changed.append(_label(item))
        current[_key(item)] = item
    removed = []
    for sku in dict.fromkeys(remove):
        keys = [key for key in current if key[1] == sku]
        if not keys:
            raise InvalidRequest(f"'{name}' has no item with SKU '{sku}' to remove.")
        for key in keys:
            removed.append(_label(current.pop(key)))
    if not current:
        raise InvalidRequest(
            f"That would leave '{name}' without prices; disable the source instead."
        )
    if len(current) > MAX_ITEMS:
        raise InvalidRequest(f"A manual source holds at most {MAX_ITEMS} prices.")
    result = price_snapshot_store(source=source, catalog=ParsedCatalog(list(current.values())))
    source.refresh_from_db()
    audit_record(
        actor=actor,
        action="price_source.items_changed",
        object_type="price_source",
        object_id=source.name,
        tenant_id=None,
        before=before,
        after={
            **(_snapshot_summary(source) or {}),
            "outcome": result.outcome,
            "added": added,
            "changed": changed,
            "removed": removed,
        },
    )
    return ManualChange(source=source, result=result, changed=changed, added=added, removed=removed)
