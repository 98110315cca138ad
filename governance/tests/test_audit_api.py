"""The audit-events API: governance leads and platform admins read every tenant's trail."""

from __future__ import annotations

import pytest

from tests.builders import client_for, make_token

URL = "/api/v1/audit-events/"


@pytest.mark.django_db
def test_a_governance_lead_reads_every_tenants_events_newest_first(company):
    events = client_for(company.grace).get(URL).json()
    tenants = {e["tenant"] for e in events["results"]}
    assert {company.a.slug, company.b.slug, None} <= tenants
    times = [e["created_at"] for e in events["results"]]
    assert times == sorted(times, reverse=True)


@pytest.mark.django_db
def test_filters_narrow_the_trail(company):
    grace = client_for(company.grace)
    only_a = grace.get(URL, {"tenant": company.a.slug, "action": "membership.created"}).json()[
        "results"
    ]
    assert {e["after"]["user"] for e in only_a} == {"alice", "amir", "ava"}
    prefixed = grace.get(URL, {"tenant": "platform", "action": "user."}).json()["results"]
    assert prefixed and all(e["action"].startswith("user.") for e in prefixed)
    bad = grace.get(URL, {"since": "yesterday"})
    assert bad.status_code == 400 and "since" in bad.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "amir", "fiona"])
def test_tenant_people_and_finance_cannot_read_the_platform_trail(company, who):
    answer = client_for(getattr(company, who)).get(URL)
    assert answer.status_code == 403
    assert "governance leads" in answer.json()["detail"]


@pytest.mark.django_db
def test_a_service_token_cannot_read_the_platform_trail(company):
    _, secret = make_token(company.a, ["read", "write", "deploy"])
    assert client_for(token=secret).get(URL).status_code == 403


@pytest.mark.django_db
def test_the_trail_list_uses_a_constant_number_of_queries(company, django_assert_max_num_queries):
    admin = client_for(company.adam)
    with django_assert_max_num_queries(3):
        small = admin.get(URL, {"page_size": 2}).json()
    with django_assert_max_num_queries(3):
        large = admin.get(URL, {"page_size": 100}).json()
    assert len(small["results"]) == 2 and len(large["results"]) == small["count"]
