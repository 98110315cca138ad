"""Deployment pages as people see them: the list, the request form, a deployment, a rollback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.tests.builders import classify, make_version, request
from portal.deployments.models import Deployment, GatewayMinute
from portal.deployments.tests.builders import pretend_ready, reload
from tenants.scoping import tenant_scope
from tests.builders import client_for, signed_in

pytestmark = pytest.mark.django_db

SIGNATURE = {
    "inputs": [
        {"name": "income", "type": "double"},
        {"name": "debt_ratio", "type": "double"},
        {"name": "region", "type": "string"},
    ]
}


def minimal_version(tenant, name: str = "churn-model", version: int = 1):
    found = make_version(tenant, name, version)
    classify(tenant, found, "minimal")
    return found


@pytest.fixture
def endpoint(company):
    """Acme's churn model on staging: revision 1 (v1) replaced by revision 2 (v2), still warm."""
    v1 = minimal_version(company.a)
    v2 = minimal_version(company.a, version=2)
    with tenant_scope(company.a):
        v2.signature = SIGNATURE
        v2.save(update_fields=["signature"])
    first = pretend_ready(company.a, request(company.a, v1, company.amir, environment="staging").pk)
    second = pretend_ready(
        company.a, request(company.a, v2, company.amir, environment="staging").pk
    )
    return first, second


def list_url(tenant) -> str:
    return f"/t/{tenant.slug}/deployments/"


def page_url(deployment: Deployment) -> str:
    return f"/t/{deployment.tenant.slug}/deployments/{deployment.pk}/"


def rollback_url(deployment: Deployment) -> str:
    return f"{page_url(deployment)}rollback/"


def form_data(**given) -> dict:
    data = {
        "model": "churn-model",
        "version": "1",
        "environment": "staging",
        "target": "local",
        "instance_type": "cpu.small",
        "replicas": "1",
        "canary_weight": "",
        "name": "",
        "drift_monitor": "on",
        "action": "request",
    }
    data.update(given)
    return {k: v for k, v in data.items() if v is not None}


# --- the list -------------------------------------------------------------------------------------


def test_the_list_shows_each_revision_with_its_state_traffic_health_and_drift(company, endpoint):
    first, second = endpoint
    html = signed_in(company.ava).get(list_url(company.a)).content.decode()
    for text in (
        "churn-model-staging",
        "churn-model v1",
        "churn-model v2",
        "Staging",
        "Local model servers",
        "Live",
        "100%",
        "ready",
        "Drift: unknown",
        page_url(first),
        page_url(second),
        f"/t/{company.a.slug}/deployments/{second.pk}/drift/",
    ):
        assert text in html, text
    assert html.index(f'href="{page_url(second)}"') < html.index(f'href="{page_url(first)}"')


def test_the_list_searches_by_model_and_filters_by_state_and_environment(company, endpoint):
    other = make_version(company.a, "fraud-detector")
    classify(company.a, other, "high")
    request(company.a, other, company.amir, environment="production")
    amir = signed_in(company.amir)

    searched = amir.get(list_url(company.a), {"q": "fraud"}).content.decode()
    assert "fraud-detector-production" in searched and "churn-model-staging" not in searched

    refused = amir.get(list_url(company.a), {"state": "rejected"}).content.decode()
    assert "fraud-detector v1" in refused and "churn-model v1" not in refused

    staging = amir.get(list_url(company.a), {"environment": "staging"}).content.decode()
    assert "churn-model v2" in staging and "fraud-detector" not in staging
    production = amir.get(list_url(company.a), {"environment": "production"}).content.decode()
    assert "fraud-detector v1" in production and "churn-model" not in production

    nothing = amir.get(list_url(company.a), {"q": "no-such"}).content.decode()
    assert "No deployments match." in nothing


def test_the_api_filters_deployments_as_the_list_does_and_names_a_filter_it_cannot_read(
    company, endpoint
):
    other = make_version(company.a, "fraud-detector")
    classify(company.a, other, "high")
    request(company.a, other, company.amir, environment="production")
    api = client_for(company.amir)
    url = f"/api/v1/tenants/{company.a.slug}/deployments/"

    def names(**given: str) -> list[str]:
        return [deployment["name"] for deployment in api.get(url, given).json()["results"]]

    assert names(q="fraud") == ["fraud-detector-production"]
    assert names(state="rejected") == ["fraud-detector-production"]
    assert set(names(environment="staging")) == {"churn-model-staging"}
    assert names(sort="newest")[0] == "fraud-detector-production"
    refused = api.get(url, {"state": "lost"})
    assert refused.status_code == 400 and refused.json()["detail"].startswith("state: ")


def test_the_list_pages_and_reads_the_same_number_of_queries_whatever_the_page_holds(company):
    amir = signed_in(company.amir)
    version = minimal_version(company.a)
    request(company.a, version, company.amir, environment="staging", name="endpoint-0")
    with CaptureQueriesContext(connection) as one:
        assert amir.get(list_url(company.a)).status_code == 200
    for index in range(1, 27):
        request(company.a, version, company.amir, environment="staging", name=f"endpoint-{index}")
    with CaptureQueriesContext(connection) as many:
        html = amir.get(list_url(company.a)).content.decode()
    assert len(many) == len(one)
    assert "Page 1 of 2 (27 in all)" in html
    assert "endpoint-9" in amir.get(list_url(company.a), {"page": 2}).content.decode()


def test_another_units_deployments_are_not_listed(company, endpoint):
    html = signed_in(company.bob).get(list_url(company.b)).content.decode()
    assert "churn-model" not in html
    assert signed_in(company.bob).get(list_url(company.a)).status_code == 404


# --- the request form -----------------------------------------------------------------------------


def test_the_form_is_prefilled_from_the_query_and_shows_the_cost_before_submitting(company):
    minimal_version(company.a)
    answer = signed_in(company.amir).get(
        f"{list_url(company.a)}new/", {"model": "churn-model", "version": "1"}
    )
    html = answer.content.decode()
    assert answer.status_code == 200
    assert 'value="churn-model"' in html and 'name="version" value="1"' in html
    assert "USD per hour" in html and "USD per month" in html
    assert '<option value="cpu.small">' in html


def test_show_cost_prices_the_plan_without_requesting_anything(company):
    minimal_version(company.a)
    amir = signed_in(company.amir)
    one = amir.post(f"{list_url(company.a)}new/", form_data(action="estimate"))
    three = amir.post(f"{list_url(company.a)}new/", form_data(action="estimate", replicas="3"))
    assert one.status_code == three.status_code == 200
    assert "3 \N{MULTIPLICATION SIGN} cpu.small" in three.content.decode()
    assert three.context["cost"].list_hourly == one.context["cost"].list_hourly * 3
    unknown = amir.post(
        f"{list_url(company.a)}new/", form_data(action="estimate", instance_type="gpu.huge")
    )
    assert "There is no price for instance type" in unknown.content.decode()
    with tenant_scope(company.a):
        assert not Deployment.objects.exists()


def test_the_form_shows_errors_next_to_their_fields_and_requests_nothing(company):
    minimal_version(company.a)
    amir = signed_in(company.amir)
    url = f"{list_url(company.a)}new/"

    unknown = amir.post(url, form_data(model="no-such-model"))
    assert unknown.status_code == 400
    assert unknown.context["form"].errors["model"] == [
        "There is no model named 'no-such-model' in this unit's catalog."
    ]
    missing_version = amir.post(url, form_data(version="7"))
    assert "'churn-model' has no version 7" in missing_version.context["form"].errors["version"][0]

    both = amir.post(url, form_data(shadow="on", canary_weight="20"))
    assert "leave the canary weight empty" in both.context["form"].errors["canary_weight"][0]

    bad_name = amir.post(url, form_data(name="Not A Slug"))
    assert "lower-case letters" in bad_name.context["form"].errors["name"][0]

    too_many = amir.post(url, form_data(replicas="99"))
    assert too_many.context["form"].errors["replicas"]
    html = too_many.content.decode()
    assert 'class="field has-error"' in html and 'role="alert"' in html
    with tenant_scope(company.a):
        assert not Deployment.objects.exists()


def test_a_service_refusal_lands_next_to_the_field_it_is_about(company, endpoint):
    minimal_version(company.a, "other-model")
    answer = signed_in(company.amir).post(
        f"{list_url(company.a)}new/", form_data(model="other-model", name="churn-model-staging")
    )
    assert answer.status_code == 400
    assert "serves model 'churn-model'" in answer.context["form"].errors["name"][0]


def test_a_minimal_risk_staging_request_is_approved_and_rolls_out(company):
    minimal_version(company.a)
    answer = signed_in(company.amir).post(
        f"{list_url(company.a)}new/", form_data(instance_type="cpu.medium"), follow=True
    )
    html = answer.content.decode()
    with tenant_scope(company.a):
        deployment = Deployment.objects.get()
    assert answer.redirect_chain == [(page_url(deployment), 302)]
    assert deployment.state == "approved" and deployment.instance_type == "cpu.medium"
    assert deployment.requested_by == company.amir and deployment.drift_monitor
    assert (
        "Approved by the policy: revision 1 of &#x27;churn-model-staging&#x27; is rolling out"
        in html
    )
    assert "Minimal and limited risk models go to staging without review." in html


def test_a_high_risk_request_waits_for_approval_and_links_to_it(company):
    version = make_version(company.a, "credit-scorer")
    classify(company.a, version, "high")
    answer = signed_in(company.amir).post(
        f"{list_url(company.a)}new/", form_data(model="credit-scorer"), follow=True
    )
    html = answer.content.decode()
    with tenant_scope(company.a):
        approval = Deployment.objects.get().approvals.get()
    assert "waits for approval by 1 governance lead" in html
    assert f'<a href="/governance/approvals/{approval.pk}/">Open the approval request</a>' in html


def test_a_request_the_policy_refuses_says_why(company):
    make_version(company.a, "unclassified-model")
    answer = signed_in(company.amir).post(
        f"{list_url(company.a)}new/", form_data(model="unclassified-model"), follow=True
    )
    html = answer.content.decode()
    assert "The policy rejected the request" in html
    assert "answer its risk questionnaire first" in html
    assert reload(company.a, answer.context["deployment"].pk).state == "rejected"


# --- one deployment -------------------------------------------------------------------------------


def test_the_deployment_page_shows_revisions_decision_traffic_and_an_example_call(
    company, endpoint
):
    first, second = endpoint
    now = timezone.now().replace(second=0, microsecond=0)
    with tenant_scope(company.a):
        for ago, requests in ((1, 30), (2, 30)):
            GatewayMinute.objects.create(
                tenant=company.a,
                deployment=second,
                minute=now - timedelta(minutes=ago),
                requests=requests,
                errors=1,
                latency_ms_total=requests * 12.0,
                latency_ms_max=40.0,
                captured=requests - 2,
                dropped=2,
            )
        GatewayMinute.objects.create(
            tenant=company.a,
            deployment=first,
            minute=now - timedelta(hours=3),
            requests=999,
        )
    html = signed_in(company.ava).get(page_url(second)).content.decode()
    for text in (
        "Revisions of churn-model-staging",
        "Approved by the policy",
        "Minimal and limited risk models go to staging without review.",
        "60 (1 per minute)",
        "mean 12.0 ms, max 40.0 ms",
        "4 captures dropped",
        "<svg",
        "<polyline",
        f"http://127.0.0.1:8000/serve/{company.a.slug}/churn-model-staging/invocations",
        "Authorization: Bearer $TOKEN",
        "&quot;columns&quot;: [&quot;income&quot;, &quot;debt_ratio&quot;, &quot;region&quot;]",
        "dataframe_split",
        f"/t/{company.a.slug}/deployments/{second.pk}/drift/",
        page_url(first),
    ):
        assert text in html, text
    assert "999" not in html


def test_an_engineer_rolls_back_after_confirming(company, endpoint):
    first, second = endpoint
    amir = signed_in(company.amir)
    assert rollback_url(second) in amir.get(page_url(second)).content.decode()
    confirm = amir.get(rollback_url(second)).content.decode()
    assert "gives all of it to revision 1 (v1)" in confirm

    unconfirmed = amir.post(rollback_url(second), {"reason": "v2 misbehaves"})
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm the rollback." in unconfirmed.content.decode()
    assert reload(company.a, second.pk).state == "live"

    done = amir.post(
        rollback_url(second), {"confirm": "on", "reason": "v2 misbehaves"}, follow=True
    )
    assert done.redirect_chain == [(page_url(first), 302)]
    assert (
        "Rolled back: revision 1 (v1) of &#x27;churn-model-staging&#x27;" in done.content.decode()
    )
    assert reload(company.a, second.pk).state == "rolled_back"
    assert reload(company.a, first.pk).traffic_weight == 100
    assert rollback_url(first) not in done.content.decode()


def test_a_rollback_with_nothing_warm_shows_why_it_cannot_happen(company, endpoint):
    first, second = endpoint
    with tenant_scope(company.a):
        Deployment.objects.filter(pk=first.pk).update(warm_until=timezone.now())
    assert (
        rollback_url(second) not in signed_in(company.amir).get(page_url(second)).content.decode()
    )
    refused = signed_in(company.amir).post(rollback_url(second), {"confirm": "on"})
    assert refused.status_code == 409
    assert "No earlier revision of &#x27;churn-model-staging&#x27; is still warm" in (
        refused.content.decode()
    )
    assert reload(company.a, second.pk).state == "live"


def test_a_viewer_sees_no_request_or_rollback_button_and_cannot_use_them(company, endpoint):
    _, second = endpoint
    ava = signed_in(company.ava)
    assert "Request a deployment" not in ava.get(list_url(company.a)).content.decode()
    assert rollback_url(second) not in ava.get(page_url(second)).content.decode()
    assert ava.get(f"{list_url(company.a)}new/").status_code == 403
    assert ava.post(rollback_url(second), {"confirm": "on"}).status_code == 403
    assert reload(company.a, second.pk).state == "live"
    assert (
        "Request a deployment" in signed_in(company.amir).get(list_url(company.a)).content.decode()
    )


def test_another_units_deployment_is_not_found(company, endpoint):
    _, second = endpoint
    bob = signed_in(company.bob)
    assert bob.get(page_url(second)).status_code == 404
    assert bob.get(rollback_url(second)).status_code == 404
    assert bob.post(rollback_url(second), {"confirm": "on"}).status_code == 404
    assert bob.get(f"/t/{company.b.slug}/deployments/{second.pk}/").status_code == 404
    assert reload(company.a, second.pk).state == "live"


def test_the_tenant_tabs_link_the_deployments(company):
    html = signed_in(company.ava).get(f"/t/{company.a.slug}/models/").content.decode()
    assert f'href="{list_url(company.a)}"' in html and ">Deployments</a>" in html


# --- the model servers, for platform admins -------------------------------------------------------


def where_it_runs(deployment: Deployment, *, sandbox: str = "bwrap") -> Deployment:
    """Record what the serving runtime records of a running model server."""
    socket = f"/srv/portal/serving/run/{deployment.pk}/socket/server.sock"
    with tenant_scope(deployment.tenant):
        deployment.serving = {
            **deployment.serving,
            "socket": socket,
            "pid": 48213,
            "sandbox": sandbox,
        }
        deployment.save(update_fields=["serving"])
    return deployment


def test_platform_admins_see_where_every_units_model_servers_run_and_units_never_do(
    company, endpoint
):
    first, _ = endpoint
    where_it_runs(first)
    other = where_it_runs(
        pretend_ready(
            company.b,
            request(company.b, minimal_version(company.b), company.bob, environment="staging").pk,
        )
    )

    shown = signed_in(company.adam).get("/serving/")

    assert shown.status_code == 200
    text = shown.content.decode()
    for deployment in (first, other):
        assert deployment.serving["socket"] in text and deployment.tenant.slug in text
    assert "48213" in text and "bwrap" in text
    assert "not sandboxed" not in text
    for person in (company.amir, company.alice, company.grace, company.fiona):
        assert signed_in(person).get("/serving/").status_code == 403
    for person in (company.amir, company.ava):
        unit_page = signed_in(person).get(page_url(first)).content.decode()
        unit_list = signed_in(person).get(list_url(company.a)).content.decode()
        assert first.serving["socket"] not in unit_page + unit_list
        assert "48213" not in unit_page + unit_list


def test_the_model_servers_page_warns_when_model_servers_run_without_a_sandbox(
    company, endpoint, settings
):
    settings.SERVING_SANDBOX = "off"
    first, _ = endpoint
    where_it_runs(first, sandbox="off")

    text = signed_in(company.adam).get("/serving/").content.decode()

    assert "Model servers are not sandboxed." in text
    assert "WITHOUT a sandbox" in text and "database" in text
