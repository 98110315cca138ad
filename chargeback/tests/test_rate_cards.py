"""The rate card: versioned, published by platform admins only, every change audited."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chargeback.models import RateCard
from chargeback.services.rate_cards import rate_card_in_force
from governance.models import AuditEvent
from tests.builders import client_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/rate-cards/"


def test_the_documented_defaults_are_in_force_until_a_card_is_published():
    card = rate_card_in_force()
    assert (card.version, card.markup_percent, card.monitoring_fee_per_model_month) == (
        0,
        Decimal("10"),
        Decimal("100"),
    )
    assert card.overhead_allocation == "even"
    assert not RateCard.objects.exists()


def test_a_rate_card_change_is_a_new_version_and_is_audited(company):
    admin = client_for(company.adam)

    first = admin.post(URL, {"markup_percent": "15", "note": "FY26 budget"}, format="json")
    second = admin.post(URL, {"monitoring_fee_per_model_month": "150"}, format="json")

    assert first.status_code == 201, first.json()
    assert first.json()["version"] == 1 and first.json()["markup_percent"] == "15.0000"
    assert second.status_code == 201
    body = second.json()
    assert (body["version"], body["markup_percent"], body["monitoring_fee_per_model_month"]) == (
        2,
        "15.0000",  # carried over from version 1
        "150.0000",
    )
    assert rate_card_in_force().version == 2
    events = AuditEvent.objects.dangerously_across_tenants().filter(action="rate_card.published")
    assert events.count() == 2
    event = events.order_by("sequence").first()
    assert event.tenant_id is None and event.chain == AuditEvent.PLATFORM_CHAIN
    assert (event.actor_label, event.before["version"], event.after["version"]) == ("adam", 0, 1)
    assert (event.before["markup_percent"], event.after["markup_percent"]) == ("10", "15")


@pytest.mark.parametrize("person", ["fiona", "grace", "alice", "amir"])
def test_only_platform_admins_may_publish_a_rate_card(company, person):
    answer = client_for(getattr(company, person)).post(URL, {"markup_percent": "50"}, format="json")

    assert answer.status_code == 403
    assert answer.json()["detail"] == "Only platform admins publish rate cards."
    assert not RateCard.objects.exists()
    assert (
        not AuditEvent.objects.dangerously_across_tenants()
        .filter(action="rate_card.published")
        .exists()
    )


def test_publishing_a_card_that_changes_nothing_is_a_conflict(company):
    answer = client_for(company.adam).post(URL, {"markup_percent": "10"}, format="json")

    assert answer.status_code == 409
    assert answer.json()["detail"] == "This is already rate card version 0; nothing changed."


def test_fixed_weights_need_a_positive_weight_for_existing_tenants(company):
    admin = client_for(company.adam)

    missing = admin.post(URL, {"overhead_allocation": "weights"}, format="json")
    unknown = admin.post(
        URL, {"overhead_allocation": "weights", "overhead_weights": {"nobody": 1}}, format="json"
    )
    stray = admin.post(URL, {"overhead_weights": {"acme-retail": 1}}, format="json")
    good = admin.post(
        URL,
        {
            "overhead_allocation": "weights",
            "overhead_weights": {"acme-retail": 3, "bravo-marketing": "1.5"},
            "overhead_monthly": "12000",
        },
        format="json",
    )

    assert missing.status_code == unknown.status_code == stray.status_code == 400
    assert "needs overhead_weights" in missing.json()["detail"]
    assert unknown.json()["detail"] == "overhead_weights name tenants that do not exist: nobody."
    assert "apply only when overhead_allocation is 'weights'" in stray.json()["detail"]
    assert good.status_code == 201
    assert good.json()["overhead_weights"] == {"acme-retail": "3", "bravo-marketing": "1.5"}


def test_a_negative_markup_is_refused_with_a_sentence(company):
    answer = client_for(company.adam).post(URL, {"markup_percent": "-5"}, format="json")
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("markup_percent:")


def test_everyone_signed_in_reads_the_card_in_force_and_finance_reads_the_history(company, api):
    admin = client_for(company.adam)
    admin.post(URL, {"markup_percent": "12"}, format="json")
    admin.post(URL, {"markup_percent": "14"}, format="json")

    engineer = client_for(company.amir).get(URL).json()["results"]
    finance = client_for(company.fiona).get(URL).json()["results"]
    current = client_for(company.bob).get(f"{URL}current/").json()

    assert [(c["version"], c["in_force"]) for c in engineer] == [(2, True)]
    assert [(c["version"], c["in_force"]) for c in finance] == [(2, True), (1, False)]
    assert (current["version"], current["markup_percent"]) == (2, "14.0000")
    assert api.get(URL).status_code == 401


def test_before_anything_is_published_the_list_shows_the_defaults(company):
    results = client_for(company.ava).get(URL).json()["results"]
    assert [(c["version"], c["in_force"], c["created_by"]) for c in results] == [
        (0, True, "defaults")
    ]


def test_a_markup_sent_as_a_json_number_is_refused_and_no_version_is_published(company):
    answer = client_for(company.adam).post(URL, {"markup_percent": 12.5}, format="json")
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("markup_percent:")
    assert '"12.50"' in answer.json()["detail"]
    assert not RateCard.objects.exists()
