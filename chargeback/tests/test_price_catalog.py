"""The built-in catalog: the seeds' figures, loaded offline, once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargeback.models import PriceSnapshot, PricingUnit
from chargeback.selectors import prices_in_force
from chargeback.services.prices import price_catalog_ensure, price_source_refresh
from chargeback.services.rate_cards import rate_card_in_force
from chargeback.tests.builders import source

pytestmark = pytest.mark.django_db
PORTAL_TYPES = ["cpu.small", "cpu.medium", "cpu.large", "gpu.t4", "gpu.a10", "gpu.a100"]


def builtin_prices() -> dict[tuple[str, str], Decimal]:
    price_catalog_ensure()
    return {
        (item.service, item.instance_type or item.sku): item.unit_price
        for item in prices_in_force(source="builtin")
    }


def test_the_builtin_catalog_gives_the_seeds_figures(http):
    prices = builtin_prices()
    training = [prices[("training", name)] for name in PORTAL_TYPES]
    inference = [prices[("inference", name)] for name in PORTAL_TYPES]

    assert prices[("training", "cpu.small")] == Decimal("0.10") == min(training)
    assert prices[("training", "gpu.a100")] == Decimal("13.83") == max(training)
    assert prices[("inference", "cpu.small")] == Decimal("0.05") == min(inference)
    assert prices[("inference", "gpu.a100")] == Decimal("4.48") == max(inference)
    assert prices[("storage", "artifact-storage")] == Decimal("0.023")
    assert Decimal(50) <= prices[("monitoring", "drift-monitoring")] <= Decimal(200)
    assert Decimal(50) <= rate_card_in_force().monitoring_fee_per_model_month <= Decimal(200)
    assert all(isinstance(price, Decimal) for price in prices.values())
    assert http.calls == []  # offline


def test_every_portal_instance_type_is_priced_per_hour_for_training_and_inference():
    price_catalog_ensure()
    hourly = prices_in_force(source="builtin").filter(pricing_unit=PricingUnit.HOUR)
    for service in ("training", "inference"):
        names = set(hourly.filter(service=service).values_list("instance_type", flat=True))
        assert names == set(PORTAL_TYPES)


def test_storage_and_monitoring_use_their_own_units():
    price_catalog_ensure()
    units = {item.service: item.pricing_unit for item in prices_in_force(source="builtin")}
    assert units["storage"] == "GB-month"
    assert units["monitoring"] == "model-month"


def test_the_builtin_catalog_is_loaded_once_and_refreshing_the_same_file_changes_nothing():
    price_catalog_ensure()
    price_catalog_ensure()
    builtin = source("builtin")
    snapshot = builtin.current_snapshot

    again = price_source_refresh(source=builtin)

    assert again.outcome == "unchanged"
    assert PriceSnapshot.objects.filter(source=builtin).count() == 1
    builtin.refresh_from_db()
    assert builtin.current_snapshot == snapshot
    assert snapshot.item_count == 14
    assert len(snapshot.content_hash) == 64
