"""The inventory across units: every unit's registered models for governance leads and platform
admins, filtered, sorted, paged and exported, in a fixed number of queries per page."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.models import ModelCertification
from governance.tests.builders import ANSWERS, classify, complete_card, make_version
from portal.catalog.models import RegisteredModel
from portal.core.audit import Actor
from portal.deployments.workflow import classification_submit
from portal.insights.tests.builders import approval, deploy, drifted, incident, monitor
from tenants.scoping import tenant_scope
from tests.builders import client_for, make_token, signed_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/inventory/"


def certify(tenant, name: str, *, state: str = "current", due_in=timedelta(days=300)) -> None:
    with tenant_scope(tenant):
        ModelCertification.objects.create(
            tenant=tenant,
            model=RegisteredModel.objects.get(name=name),
            certified_at=timezone.now() - timedelta(days=60),
            due_at=timezone.now() + due_in,
            state=state,
        )


@pytest.fixture
def platform(company):
    """Acme's credit scorer: high risk, live in production (two revisions) and staging, an open
    approval, certified, its newest version's card in review, monitored, drifting, one open
    incident. Bravo's lead scorer: minimal risk, never deployed. Acme's churn model: not
    classified, a failed deployment, no card."""
    credit = make_version(company.a, "credit-scorer")
    classify(company.a, credit, "high", user=company.grace)
    newest = make_version(company.a, "credit-scorer", 2)
    complete_card(company.a, newest)
    first = deploy(company.a, credit, name="credit", revision=1)
    deploy(company.a, newest, name="credit", revision=2)
    deploy(company.a, newest, name="credit-staging", environment="staging")
    waiting = deploy(company.a, newest, name="credit-next", state="pending_approval")
    approval(company.a, waiting, expires_in=timedelta(days=3))
    certify(company.a, "credit-scorer")
    monitor(company.a, "credit")
    drifted(company.a, first, status="ok", at=timezone.now() - timedelta(hours=2))
    drifted(company.a, first, status="drift")
    incident(
        company.a,
        title="Credit scores drift",
        model=RegisteredModel.objects.dangerously_across_tenants().get(name="credit-scorer"),
    )
    leads = make_version(company.b, "lead-scorer")
    classify(company.b, leads, "minimal")
    churn = make_version(company.a, "churn")
    deploy(company.a, churn, name="churn", state="failed")
    return company


def rows(body) -> dict[str, dict]:
    return {row["model"]: row for row in body["results"]}


def test_a_governance_lead_sees_the_models_of_both_units_with_what_governs_them(platform):
    answer = client_for(platform.grace).get(URL)
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 3
    assert [row["model"] for row in body["results"]] == ["credit-scorer", "lead-scorer", "churn"]
    credit = rows(body)["credit-scorer"]
    assert credit["tenant"] == platform.a.slug and credit["tenant_name"] == "Acme Retail"
    assert credit["risk_tier"] == "high" and credit["tier_set_by"] == "grace"
    assert credit["tier_set_by_authority"] == "governance"
    assert credit["open_tier_proposals"] == 0
    assert credit["live_endpoints"] == {"staging": 1, "production": 2}
    assert credit["deployments"]["live"] == 3
    assert credit["deployments"]["pending_approval"] == 1
    assert credit["deployments"]["retired"] == 0
    assert credit["open_approvals"] == 1 and credit["approval_expiry"] is not None
    assert credit["certification"]["state"] == "current"
    assert credit["card_version"] == 2 and credit["card_state"] == "draft"
    assert credit["monitor_state"] == "on" and credit["verdict"] == "drift"
    assert credit["open_incidents"] == 1
    leads = rows(body)["lead-scorer"]
    assert leads["tenant"] == platform.b.slug and leads["risk_tier"] == "minimal"
    assert leads["live_endpoints"] == {"staging": 0, "production": 0}
    assert leads["certification"] is None and leads["card_state"] is None
    assert leads["monitor_state"] == "none" and leads["verdict"] is None
    churn = rows(body)["churn"]
    assert churn["risk_tier"] == "" and churn["tier_set_by"] == ""
    assert churn["deployments"]["failed"] == 1 and churn["open_incidents"] == 0


def test_the_tier_is_set_by_whoever_classified_the_model_last(platform):
    with tenant_scope(platform.a):
        version = RegisteredModel.objects.get(name="credit-scorer").versions.get(version=2)
    classify(platform.a, version, "limited", user=platform.gus)
    credit = rows(client_for(platform.grace).get(f"{URL}?q=credit").json())["credit-scorer"]
    assert credit["risk_tier"] == "limited" and credit["tier_set_by"] == "gus"


def test_a_units_downgrade_shows_as_an_open_proposal_under_the_leads_tier(platform):
    with tenant_scope(platform.a):
        classification_submit(
            actor=Actor.user(platform.amir),
            model=RegisteredModel.objects.get(name="credit-scorer"),
            answers=ANSWERS["minimal"],
            user=platform.amir,
        )
    credit = rows(client_for(platform.grace).get(f"{URL}?q=credit").json())["credit-scorer"]
    assert credit["risk_tier"] == "high" and credit["tier_set_by_authority"] == "governance"
    assert credit["open_tier_proposals"] == 1
    page = signed_in(platform.grace).get("/inventory/?q=credit").content.decode()
    assert "by governance (grace)" in page and "1 proposal" in page


def test_a_suspended_revision_is_counted_in_the_inventory(platform):
    with tenant_scope(platform.a):
        version = RegisteredModel.objects.get(name="credit-scorer").versions.get(version=1)
    deploy(platform.a, version, name="credit-old", state="suspended")
    credit = rows(client_for(platform.grace).get(f"{URL}?q=credit").json())["credit-scorer"]
    assert credit["deployments"]["suspended"] == 1


def test_a_platform_admin_sees_the_inventory_too(platform):
    assert client_for(platform.adam).get(URL).json()["count"] == 3


def test_unit_people_finance_and_tokens_are_refused_the_inventory(platform):
    for person in (platform.amir, platform.alice, platform.bob, platform.fiona):
        answer = client_for(person).get(URL)
        assert answer.status_code == 403
        assert "credit-scorer" not in answer.content.decode()
        assert signed_in(person).get("/inventory/").status_code == 403
        assert signed_in(person).get("/inventory/export.csv").status_code == 403
    _, secret = make_token(platform.a, scopes=["read"])
    assert client_for(token=secret).get(URL).status_code == 403
    assert client_for().get(URL).status_code in (401, 403)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tenant=bravo-marketing", {"lead-scorer"}),
        ("tier=high", {"credit-scorer"}),
        ("tier=none", {"churn"}),
        ("environment=staging", {"credit-scorer"}),
        ("card=draft", {"credit-scorer"}),
        ("card=none", {"lead-scorer", "churn"}),
        ("verdict=drift", {"credit-scorer"}),
        ("verdict=unknown", {"lead-scorer", "churn"}),
        ("certification=current", {"credit-scorer"}),
        ("certification=none", {"lead-scorer", "churn"}),
        ("open_incidents=true", {"credit-scorer"}),
        ("open_incidents=false", {"lead-scorer", "churn"}),
        ("q=SCORER", {"credit-scorer", "lead-scorer"}),
        ("q=scorer&tenant=acme-retail&tier=high", {"credit-scorer"}),
    ],
)
def test_the_inventory_filters_and_searches(platform, query, expected):
    body = client_for(platform.grace).get(f"{URL}?{query}").json()
    assert set(rows(body)) == expected


def test_a_filter_value_the_inventory_cannot_read_is_a_400_naming_it(platform):
    answer = client_for(platform.grace).get(f"{URL}?tier=catastrophic")
    assert answer.status_code == 400 and "tier" in answer.json()["errors"]


def test_the_inventory_sorts_by_a_column(platform):
    def order(sort: str) -> list[str]:
        body = client_for(platform.grace).get(f"{URL}?sort={sort}").json()
        return [row["model"] for row in body["results"]]

    assert order("model") == ["churn", "credit-scorer", "lead-scorer"]
    assert order("-model") == ["lead-scorer", "credit-scorer", "churn"]
    assert order("-tier") == ["churn", "lead-scorer", "credit-scorer"]
    assert order("unit") == ["churn", "credit-scorer", "lead-scorer"]
    assert order("live")[0] == "credit-scorer"
    assert order("recertification")[0] == "credit-scorer"
    assert order("incidents")[0] == "credit-scorer"


def test_the_csv_export_holds_the_filtered_rows_and_no_formulas(platform):
    version = make_version(platform.b, "=HYPERLINK(1)")
    classify(platform.b, version, "high")
    answer = signed_in(platform.grace).get("/inventory/export.csv?tier=high")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    assert 'filename="inventory.csv"' in answer["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert sorted(row["model"] for row in table) == ["'=HYPERLINK(1)", "credit-scorer"]
    credit = next(row for row in table if row["model"] == "credit-scorer")
    assert credit["unit"] == "Acme Retail" and credit["risk tier"] == "High risk"
    assert credit["live in production"] == "2" and credit["deployments live"] == "3"
    assert credit["card state"] == "Draft" and credit["last drift verdict"] == "drift"
    assert credit["open incidents"] == "1" and credit["certification"] == "Current"


def test_the_inventory_page_shows_both_units_and_filters_them(platform):
    html = signed_in(platform.grace).get("/inventory/").content.decode()
    assert "Inventory across units" in html
    assert '<a href="/inventory/" aria-current="page">Inventory</a>' in html
    assert "Acme Retail" in html and "Bravo Marketing" in html
    assert ">credit-scorer</a>" in html and "by governance (grace)" in html
    assert "Production: 2" in html
    filtered = signed_in(platform.grace).get("/inventory/?tenant=acme-retail&tier=high")
    html = filtered.content.decode()
    assert ">credit-scorer</a>" in html and ">lead-scorer</a>" not in html
    assert "/inventory/export.csv?tenant=acme-retail&amp;tier=high" in html
    assert '?tenant=acme-retail&amp;tier=high&amp;sort=model"' in html
    resorted = signed_in(platform.grace).get("/inventory/?sort=model").content.decode()
    assert '?sort=-model" aria-current="true">Model</a>' in resorted


def test_the_governance_leads_home_opens_on_the_inventory(platform):
    html = signed_in(platform.grace).get("/").content.decode()
    assert "Inventory across units" in html and "3 models" in html
    assert ">credit-scorer</a>" in html and ">lead-scorer</a>" in html
    assert 'action="/inventory/"' in html
    assert "Inventory across units" not in signed_in(platform.amir).get("/").content.decode()


def test_a_page_of_the_inventory_runs_the_same_queries_for_one_row_or_many(platform):
    with CaptureQueriesContext(connection) as one:
        assert len(client_for(platform.grace).get(f"{URL}?page_size=1").json()["results"]) == 1
    with CaptureQueriesContext(connection) as three:
        assert len(client_for(platform.grace).get(f"{URL}?page_size=3").json()["results"]) == 3
    assert len(one) == len(three)
    for index in range(5):
        make_version(platform.b, f"more-{index}")
    with CaptureQueriesContext(connection) as eight:
        assert len(client_for(platform.grace).get(f"{URL}?page_size=8").json()["results"]) == 8
    assert len(eight) == len(one)
    with CaptureQueriesContext(connection) as page_one:
        signed_in(platform.grace).get("/inventory/?tier=high")
    with CaptureQueriesContext(connection) as page_all:
        signed_in(platform.grace).get("/inventory/")
    assert len(page_one) == len(page_all)
