"""Another tenant's things are invisible: the same 404 as things that do not exist."""

from __future__ import annotations

import pytest

from tenants.models import Membership, ServiceToken
from tenants.scoping import tenant_scope
from tests.builders import client_for, make_token

MISSING = "no-such-unit"


def tenant_a_endpoints(company) -> list[tuple[str, str, dict]]:
    """Every tenant endpoint of A, as (method, path, body); the same paths exist for any slug."""
    with tenant_scope(company.a):
        membership = Membership.objects.get(user=company.amir)
    token, _ = make_token(company.a, ["read"], name="a-pipeline")
    base = f"/api/v1/tenants/{company.a.slug}"
    return [
        ("get", f"{base}/", {}),
        ("patch", f"{base}/", {"name": "Taken over"}),
        ("get", f"{base}/members/", {}),
        ("post", f"{base}/members/", {"username": "ben", "role": "owner"}),
        ("get", f"{base}/members/{membership.pk}/", {}),
        ("patch", f"{base}/members/{membership.pk}/", {"role": "viewer"}),
        ("delete", f"{base}/members/{membership.pk}/", {}),
        ("get", f"{base}/tokens/", {}),
        ("post", f"{base}/tokens/", {"name": "stolen", "scopes": ["read"]}),
        ("get", f"{base}/tokens/{token.pk}/", {}),
        ("delete", f"{base}/tokens/{token.pk}/", {}),
        *governed_endpoints(company, base),
    ]


def governed_endpoints(company, base: str) -> list[tuple[str, str, dict]]:
    """A's catalog, deployment, card, evidence, incident and webhook endpoints."""
    from governance.services.incidents import incident_open
    from governance.tests.builders import ANSWERS, classify, make_version, request
    from portal.core.audit import Actor
    from tenants.notifications import webhook_endpoint_create

    version = make_version(company.a)
    classify(company.a, version, "high")
    deployment = request(company.a, version, company.amir, environment="staging")
    with tenant_scope(company.a):
        incident = incident_open(
            actor=Actor.system("test"), tenant_id=company.a.pk, title="x", severity="sev4"
        )
        endpoint = webhook_endpoint_create(
            actor=Actor.system("test"),
            tenant=company.a,
            url="http://127.0.0.1:9/hook",
            events=["*"],
            description="",
            created_by=None,
        )
    model = f"{base}/models/credit-scorer"
    card = f"{model}/versions/1/card"
    return [
        ("get", f"{model}/classification/", {}),
        ("post", f"{model}/classification/", {"answers": ANSWERS["minimal"]}),
        ("get", f"{card}/", {}),
        ("patch", f"{card}/", {"purpose": "taken over"}),
        ("post", f"{card}/submit/", {}),
        ("post", f"{card}/review/", {"approve": True}),
        ("get", f"{card}/markdown/", {}),
        ("get", f"{card}/pdf/", {}),
        ("get", f"{model}/versions/1/evidence/", {}),
        ("get", f"{base}/deployments/", {}),
        (
            "post",
            f"{base}/deployments/",
            {
                "model": "credit-scorer",
                "version": 1,
                "environment": "staging",
                "instance_type": "cpu.small",
            },
        ),
        ("get", f"{base}/deployments/{deployment.pk}/", {}),
        ("post", f"{base}/deployments/{deployment.pk}/resubmit/", {}),
        ("get", f"{base}/incidents/", {}),
        ("post", f"{base}/incidents/", {"title": "x", "severity": "sev4"}),
        ("get", f"{base}/incidents/{incident.pk}/", {}),
        ("patch", f"{base}/incidents/{incident.pk}/", {"status": "mitigated"}),
        ("post", f"{base}/incidents/{incident.pk}/entries/", {"text": "x"}),
        ("get", f"{base}/webhooks/", {}),
        ("get", f"{base}/webhooks/{endpoint.pk}/", {}),
        ("patch", f"{base}/webhooks/{endpoint.pk}/", {"active": False}),
        ("get", f"{base}/webhooks/{endpoint.pk}/deliveries/", {}),
        ("delete", f"{base}/webhooks/{endpoint.pk}/", {}),
    ]


def _call(client, method: str, path: str, body: dict):
    return (
        getattr(client, method)(path, body, format="json")
        if body
        else getattr(client, method)(path)
    )


@pytest.mark.django_db
def test_a_member_of_tenant_b_gets_the_same_404_as_for_a_missing_tenant_on_every_endpoint(company):
    bob = client_for(company.bob)
    for method, path, body in tenant_a_endpoints(company):
        answer = _call(bob, method, path, body)
        missing = _call(bob, method, path.replace(company.a.slug, MISSING), body)
        assert answer.status_code == 404, (method, path, answer.content)
        assert answer.content == missing.content, (method, path)
    with tenant_scope(company.a):
        assert Membership.objects.filter(user=company.ben).count() == 0
        assert ServiceToken.objects.filter(name="stolen").count() == 0


@pytest.mark.django_db
def test_a_token_of_tenant_b_gets_the_same_404_as_for_a_missing_tenant_on_every_endpoint(company):
    _, secret = make_token(company.b, ["read", "write", "deploy", "predict"])
    b_pipeline = client_for(token=secret)
    for method, path, body in tenant_a_endpoints(company):
        answer = _call(b_pipeline, method, path, body)
        missing = _call(b_pipeline, method, path.replace(company.a.slug, MISSING), body)
        assert answer.status_code == 404, (method, path, answer.content)
        assert answer.content == missing.content, (method, path)


@pytest.mark.django_db
def test_an_object_of_tenant_b_under_tenant_a_url_is_the_same_404_as_a_missing_object(company):
    b_token, _ = make_token(company.b, ["read"])
    alice = client_for(company.alice)
    foreign = alice.get(f"/api/v1/tenants/{company.a.slug}/tokens/{b_token.pk}/")
    missing = alice.get(f"/api/v1/tenants/{company.a.slug}/tokens/999999/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content


@pytest.mark.django_db
def test_an_anonymous_caller_gets_401_on_every_endpoint(company):
    anonymous = client_for()
    for method, path, body in tenant_a_endpoints(company):
        answer = _call(anonymous, method, path, body)
        assert answer.status_code == 401, (method, path)
        assert answer.json()["code"] == "not_authenticated"
        assert answer["WWW-Authenticate"] == "Bearer"
    assert anonymous.get("/api/v1/tenants/").status_code == 401
    assert anonymous.get("/api/v1/audit-events/").status_code == 401


@pytest.mark.django_db
def test_tenant_list_shows_people_only_their_own_units(company):
    bob_sees = client_for(company.bob).get("/api/v1/tenants/").json()
    assert [t["slug"] for t in bob_sees["results"]] == [company.b.slug]
    grace_sees = client_for(company.grace).get("/api/v1/tenants/").json()
    assert {t["slug"] for t in grace_sees["results"]} == {company.a.slug, company.b.slug}
