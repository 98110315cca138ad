"""A governance lead names another lead as delegate for a period, through the API or the page;
both the naming and the ending are audited, and nobody outside governance sees delegations."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.models import AuditEvent, Delegation
from portal.core.api.errors import NOT_FOUND_BODY
from tests.builders import client_for, signed_in

pytestmark = pytest.mark.django_db
DELEGATIONS = "/api/v1/delegations/"


def in_days(days: float) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def name_delegate(user, delegate: str = "gus", **given):
    body = {"delegate": delegate, "starts_at": in_days(1), "ends_at": in_days(8), **given}
    return client_for(user).post(DELEGATIONS, body, format="json")


def platform_events(action: str) -> list[dict]:
    return list(
        AuditEvent.objects.dangerously_across_tenants()
        .filter(action=action, tenant=None)
        .values_list("after", flat=True)
    )


def test_a_lead_names_a_delegate_and_ends_it_and_both_are_audited(company):
    named = name_delegate(company.grace, note="Parental leave.")

    assert named.status_code == 201
    body = named.json()
    assert (body["lead"], body["delegate"], body["state"]) == ("grace", "gus", "upcoming")
    listed = client_for(company.gus).get(DELEGATIONS).json()["results"]
    assert [d["id"] for d in listed] == [body["id"]]

    ended = client_for(company.grace).post(f"{DELEGATIONS}{body['id']}/end/")

    assert ended.json()["state"] == "ended"
    assert client_for(company.grace).post(f"{DELEGATIONS}{body['id']}/end/").status_code == 409
    created, ended_events = (
        platform_events("delegation.created"),
        platform_events("delegation.ended"),
    )
    assert [(e["lead"], e["delegate"]) for e in created] == [("grace", "gus")]
    assert len(ended_events) == 1 and ended_events[0]["ended_at"]


def test_a_lead_cannot_delegate_to_themselves_to_a_non_lead_or_for_a_past_period(company):
    yourself = name_delegate(company.grace, "grace")
    engineer = name_delegate(company.grace, "amir")
    past = name_delegate(company.grace, starts_at=in_days(-5), ends_at=in_days(-1))
    backwards = name_delegate(company.grace, starts_at=in_days(5), ends_at=in_days(2))
    nobody = name_delegate(company.grace, "zed")

    assert yourself.status_code == 400
    assert yourself.json()["detail"] == "Name someone else as your delegate, not yourself."
    assert engineer.status_code == 400 and "not an active governance lead" in str(engineer.json())
    assert past.status_code == 400
    assert past.json()["detail"] == "The period is in the past; choose an end in the future."
    assert backwards.status_code == 400 and "ends before it starts" in str(backwards.json())
    assert nobody.status_code == 400 and "Nobody is called zed" in str(nobody.json())
    assert not Delegation.objects.exists()


def test_a_start_in_the_past_counts_from_now_and_overlapping_periods_are_refused(company):
    started = name_delegate(company.grace, starts_at=in_days(-3), ends_at=in_days(3)).json()
    overlapping = name_delegate(company.grace, starts_at=in_days(2), ends_at=in_days(4))

    assert started["state"] == "in force"
    assert datetime.fromisoformat(started["starts_at"]) >= timezone.now() - timedelta(hours=1)
    assert overlapping.status_code == 409
    assert "already have a delegate for part of that period" in overlapping.json()["detail"]


def test_only_governance_sees_delegations_and_another_units_people_get_a_404(company):
    delegation = name_delegate(company.grace).json()

    for person in (company.bob, company.amir, company.fiona):
        client = client_for(person)
        assert client.get(DELEGATIONS).status_code == 403
        assert name_delegate(person, "grace").status_code == 403
        ending = client.post(f"{DELEGATIONS}{delegation['id']}/end/")
        assert ending.status_code == 404 and ending.json() == NOT_FOUND_BODY
    assert client_for(company.bob).post(f"{DELEGATIONS}999999/end/").json() == NOT_FOUND_BODY
    assert client_for(company.adam).get(DELEGATIONS).json()["count"] == 1


def test_another_lead_cannot_end_a_delegation_but_a_platform_admin_can(company):
    delegation = name_delegate(company.grace).json()

    refused = client_for(company.gus).post(f"{DELEGATIONS}{delegation['id']}/end/")
    ended = client_for(company.adam).post(f"{DELEGATIONS}{delegation['id']}/end/")

    assert refused.status_code == 403
    assert ended.json()["state"] == "ended" and ended.json()["ended_by_label"] == "adam"


def test_the_delegations_page_names_a_delegate_lists_it_and_ends_it(company):
    grace = signed_in(company.grace)
    page = grace.get("/governance/delegations/")
    assert page.status_code == 200 and "Name a delegate" in page.content.decode()

    named = grace.post(
        "/governance/delegations/",
        {
            "delegate": "gus",
            "ends_at": (timezone.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"),
        },
        follow=True,
    ).content.decode()
    assert "gus receives your approval reminders" in named
    assert "in force" in named
    delegation = Delegation.objects.get()

    refused = grace.post(
        "/governance/delegations/",
        {
            "delegate": "gus",
            "ends_at": (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert refused.status_code == 400
    assert "The period is in the past" in refused.content.decode()

    ended = grace.post(f"/governance/delegations/{delegation.pk}/end/", follow=True)
    assert "The delegation to gus has ended." in ended.content.decode()
    delegation.refresh_from_db()
    assert delegation.ended_at is not None


def test_the_delegation_list_reads_in_as_many_queries_for_one_delegation_as_for_three(company):
    name_delegate(company.grace)
    with CaptureQueriesContext(connection) as one:
        assert client_for(company.adam).get(DELEGATIONS).json()["count"] == 1
    name_delegate(company.gus, "grace", starts_at=in_days(10), ends_at=in_days(12))
    name_delegate(company.grace, starts_at=in_days(20), ends_at=in_days(22))
    with CaptureQueriesContext(connection) as three:
        assert client_for(company.adam).get(DELEGATIONS).json()["count"] == 3
    assert len(three) == len(one)


def test_the_delegations_page_is_for_governance_only(company):
    assert signed_in(company.amir).get("/governance/delegations/").status_code == 403
    assert signed_in(company.adam).get("/governance/delegations/").status_code == 200
    assert (
        "Name a delegate"
        not in signed_in(company.adam).get("/governance/delegations/").content.decode()
    )
