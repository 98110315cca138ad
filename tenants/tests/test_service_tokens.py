"""Service tokens: scoped, shown once, stored as a hash, refused once revoked or expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from governance.models import AuditEvent
from tenants.models import ServiceToken
from tenants.scoping import tenant_scope
from tests.builders import client_for, make_token


def tokens_url(tenant) -> str:
    return f"/api/v1/tenants/{tenant.slug}/tokens/"


@pytest.mark.django_db
def test_an_owner_creates_a_token_and_sees_its_secret_once(company):
    alice = client_for(company.alice)
    created = alice.post(
        tokens_url(company.a), {"name": "CI", "scopes": ["read", "deploy"]}, format="json"
    )
    assert created.status_code == 201
    body = created.json()
    assert body["token"].startswith(body["prefix"] + "_")
    assert body["scopes"] == ["deploy", "read"]
    listed = alice.get(tokens_url(company.a)).json()["results"]
    assert [t["prefix"] for t in listed] == [body["prefix"]]
    assert "token" not in listed[0]
    assert "token" not in alice.get(f"{tokens_url(company.a)}{body['id']}/").json()


@pytest.mark.django_db
def test_the_database_never_holds_a_tokens_secret(company):
    secret = (
        client_for(company.alice)
        .post(tokens_url(company.a), {"name": "CI", "scopes": ["read"]}, format="json")
        .json()["token"]
    )
    secret_part = secret.split("_", 2)[2]
    for model in apps.get_models():
        for row in model._base_manager.values():
            assert secret_part not in repr(row), f"{model.__name__} holds the token's secret"


@pytest.mark.django_db
def test_a_viewer_cannot_create_tokens(company):
    answer = client_for(company.ava).post(
        tokens_url(company.a), {"name": "x", "scopes": ["read"]}, format="json"
    )
    assert answer.status_code == 403
    assert "manage" in answer.json()["detail"]


@pytest.mark.django_db
def test_an_engineer_cannot_create_tokens_but_can_list_them(company):
    amir = client_for(company.amir)
    assert (
        amir.post(
            tokens_url(company.a), {"name": "x", "scopes": ["read"]}, format="json"
        ).status_code
        == 403
    )
    assert amir.get(tokens_url(company.a)).status_code == 200


@pytest.mark.django_db
def test_a_token_authenticates_within_its_scopes_and_records_its_last_use(company):
    token, secret = make_token(company.a, ["read"])
    pipeline = client_for(token=secret)
    assert pipeline.get(f"/api/v1/tenants/{company.a.slug}/").status_code == 200
    assert pipeline.get(f"/api/v1/tenants/{company.a.slug}/members/").status_code == 200
    with tenant_scope(company.a):
        token.refresh_from_db()
    assert token.last_used_at is not None
    # a token never manages tokens, whatever its scopes
    refused = pipeline.post(tokens_url(company.a), {"name": "x", "scopes": ["read"]}, format="json")
    assert refused.status_code == 403


@pytest.mark.django_db
def test_a_revoked_token_gets_401(company):
    token, secret = make_token(company.a, ["read"])
    alice = client_for(company.alice)
    assert alice.delete(f"{tokens_url(company.a)}{token.pk}/").status_code == 204
    answer = client_for(token=secret).get(f"/api/v1/tenants/{company.a.slug}/")
    assert answer.status_code == 401
    assert answer.json()["detail"] == "This token has been revoked."
    assert alice.get(f"{tokens_url(company.a)}{token.pk}/").json()["status"] == "revoked"


@pytest.mark.django_db
def test_an_expired_token_gets_401(company):
    token, secret = make_token(company.a, ["read"])
    with tenant_scope(company.a):
        ServiceToken.objects.filter(pk=token.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    answer = client_for(token=secret).get(f"/api/v1/tenants/{company.a.slug}/")
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Bearer mlp_00000000_notarealsecret",
        "Bearer nonsense",
        "Bearer a b",
        "Bearer ",
    ],
)
def test_a_wrong_or_malformed_token_gets_401(company, header):
    make_token(company.a, ["read"])
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(f"/api/v1/tenants/{company.a.slug}/").status_code == 401


@pytest.mark.django_db
def test_a_tampered_secret_with_a_real_prefix_gets_401(company):
    _, secret = make_token(company.a, ["read"])
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    assert client_for(token=forged).get(f"/api/v1/tenants/{company.a.slug}/").status_code == 401


@pytest.mark.django_db
def test_creating_and_revoking_tokens_is_audited_without_the_secret(company):
    alice = client_for(company.alice)
    body = alice.post(
        tokens_url(company.a), {"name": "CI", "scopes": ["read"]}, format="json"
    ).json()
    alice.delete(f"{tokens_url(company.a)}{body['id']}/")
    with tenant_scope(company.a):
        events = list(AuditEvent.objects.filter(object_type="service_token").order_by("sequence"))
    assert [e.action for e in events] == ["token.created", "token.revoked"]
    assert events[0].actor_label == "alice"
    assert events[0].after["prefix"] == body["prefix"]
    assert body["token"] not in repr(events[0].after)


@pytest.mark.django_db
def test_token_creation_is_throttled_with_retry_after(company, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"token_create": "2/hour"},
    }
    alice = client_for(company.alice)
    for _ in range(2):
        assert (
            alice.post(
                tokens_url(company.a), {"name": "x", "scopes": ["read"]}, format="json"
            ).status_code
            == 201
        )
    throttled = alice.post(tokens_url(company.a), {"name": "x", "scopes": ["read"]}, format="json")
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["code"] == "throttled"


@pytest.mark.django_db
def test_a_token_needs_a_known_scope_and_a_sensible_expiry(company):
    alice = client_for(company.alice)
    bad_scope = alice.post(tokens_url(company.a), {"name": "x", "scopes": ["root"]}, format="json")
    assert bad_scope.status_code == 400
    assert bad_scope.json()["errors"]["scopes"]
    too_long = alice.post(
        tokens_url(company.a),
        {"name": "x", "scopes": ["read"], "expires_in_days": 5000},
        format="json",
    )
    assert too_long.status_code == 400
    assert "expires_in_days" in too_long.json()["detail"]
