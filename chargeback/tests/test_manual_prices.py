"""Prices entered by hand: a manual source's items change through new snapshots, audited."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargeback.models import PriceSnapshot, PriceSource
from chargeback.selectors import hourly_price
from governance.models import AuditEvent
from tests.builders import client_for

pytestmark = pytest.mark.django_db
ITEMS = "/api/v1/price-sources/on-prem/items/"
GPU = {
    "service": "inference",
    "sku": "onprem-gpu",
    "instance_type": "gpu.t4",
    "pricing_unit": "hour",
    "unit_price": "0.50",
}
CPU = {**GPU, "sku": "onprem-cpu", "instance_type": "cpu.small", "unit_price": "0.03"}


def snapshots() -> list[PriceSnapshot]:
    return list(PriceSnapshot.objects.filter(source__name="on-prem").order_by("id"))


def test_an_admin_adds_prices_to_a_new_manual_source_as_a_snapshot(company):
    answer = client_for(company.adam).post(ITEMS, {"items": [GPU, CPU]}, format="json")

    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["outcome"], body["item_count"]) == ("loaded", 2)
    assert sorted(body["added"]) == ["inference/onprem-cpu", "inference/onprem-gpu"]
    [snapshot] = snapshots()
    assert len(snapshot.content_hash) == 64 and snapshot.item_count == 2
    source = PriceSource.objects.get(name="on-prem")
    assert (source.kind, source.current_snapshot_id, source.status) == ("manual", snapshot.pk, "ok")
    # A manual price is preferred to the built-in one for the embedded target.
    assert hourly_price(target="local", instance_type="gpu.t4", service="inference").unit_price == (
        Decimal("0.5")
    )


def test_changing_one_price_creates_a_new_snapshot_that_keeps_the_others_and_is_audited(company):
    admin = client_for(company.adam)
    admin.post(ITEMS, {"items": [GPU, CPU]}, format="json")

    answer = admin.post(ITEMS, {"items": [{**GPU, "unit_price": "0.55"}]}, format="json")

    assert answer.status_code == 201, answer.json()
    assert answer.json()["changed"] == ["inference/onprem-gpu"]
    old, new = snapshots()
    assert old.content_hash != new.content_hash
    assert sorted(new.items.values_list("sku", "unit_price")) == [
        ("onprem-cpu", Decimal("0.03")),
        ("onprem-gpu", Decimal("0.55")),
    ]
    assert old.items.get(sku="onprem-gpu").unit_price == Decimal("0.5")  # never edited
    events = list(
        AuditEvent.objects.dangerously_across_tenants()
        .filter(action="price_source.items_changed")
        .order_by("id")
    )
    assert len(events) == 2 and events[1].tenant_id is None
    assert events[1].before["snapshot"] == old.pk
    assert (events[1].after["snapshot"], events[1].after["changed"]) == (
        new.pk,
        ["inference/onprem-gpu"],
    )
    assert events[1].actor_label == "adam"


def test_the_same_prices_again_change_nothing_and_going_back_restores_the_old_snapshot(company):
    admin = client_for(company.adam)
    admin.post(ITEMS, {"items": [GPU]}, format="json")

    same = admin.post(ITEMS, {"items": [GPU]}, format="json")
    admin.post(ITEMS, {"items": [{**GPU, "unit_price": "0.60"}]}, format="json")
    back = admin.post(ITEMS, {"items": [GPU]}, format="json")

    assert (same.status_code, same.json()["outcome"]) == (200, "unchanged")
    assert (back.status_code, back.json()["outcome"]) == (200, "restored")
    first, _ = snapshots()
    assert PriceSource.objects.get(name="on-prem").current_snapshot_id == first.pk


def test_removing_an_item_and_refusing_what_would_break_the_source(company):
    admin = client_for(company.adam)
    admin.post(ITEMS, {"items": [GPU, CPU]}, format="json")

    removed = admin.post(ITEMS, {"remove": ["onprem-cpu"]}, format="json")
    unknown = admin.post(ITEMS, {"remove": ["nothing-like-it"]}, format="json")
    empty = admin.post(ITEMS, {"remove": ["onprem-gpu"]}, format="json")
    hourly_without_type = admin.post(
        ITEMS, {"items": [{**GPU, "instance_type": ""}]}, format="json"
    )

    assert removed.status_code == 201 and removed.json()["removed"] == ["inference/onprem-cpu"]
    for refused in (unknown, empty, hourly_without_type):
        assert refused.status_code == 400 and refused.json()["detail"]
    assert len(snapshots()) == 2


def test_only_manual_sources_take_prices_by_hand(company):
    answer = client_for(company.adam).post(
        "/api/v1/price-sources/builtin/items/", {"items": [GPU]}, format="json"
    )

    assert answer.status_code == 409
    assert "only manual sources" in answer.json()["detail"]


def test_finance_and_tenant_people_cannot_enter_prices(company):
    for person in (company.fiona, company.alice, company.amir, company.grace):
        answer = client_for(person).post(ITEMS, {"items": [GPU]}, format="json")
        assert answer.status_code == 403, person
    assert not PriceSource.objects.filter(name="on-prem").exists()
    assert (
        not AuditEvent.objects.dangerously_across_tenants()
        .filter(action="price_source.items_changed")
        .exists()
    )
