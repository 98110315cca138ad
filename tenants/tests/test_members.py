"""Members and roles: owners manage them, every change is audited, a unit always keeps an owner."""

from __future__ import annotations

import pytest

from governance.models import AuditEvent
from tenants.models import Membership
from tenants.scoping import tenant_scope
from tests.builders import client_for


def members_url(tenant) -> str:
    return f"/api/v1/tenants/{tenant.slug}/members/"


@pytest.mark.django_db
def test_members_list_shows_people_and_roles_with_a_constant_number_of_queries(
    company, django_assert_max_num_queries
):
    alice = client_for(company.alice)
    with django_assert_max_num_queries(6):
        listed = alice.get(members_url(company.a)).json()
    assert {(m["username"], m["role"]) for m in listed["results"]} == {
        ("alice", "owner"),
        ("amir", "engineer"),
        ("ava", "viewer"),
    }


@pytest.mark.django_db
def test_an_owner_adds_changes_and_removes_a_member_and_each_change_is_audited(company):
    alice = client_for(company.alice)
    added = alice.post(members_url(company.a), {"username": "ben", "role": "viewer"}, format="json")
    assert added.status_code == 201
    url = f"{members_url(company.a)}{added.json()['id']}/"
    assert alice.patch(url, {"role": "engineer"}, format="json").json()["role"] == "engineer"
    assert alice.delete(url).status_code == 204
    with tenant_scope(company.a):
        actions = list(
            AuditEvent.objects.filter(object_type="membership", actor_label="alice")
            .order_by("sequence")
            .values_list("action", flat=True)
        )
    assert actions == ["membership.created", "membership.role_changed", "membership.deleted"]


@pytest.mark.django_db
def test_an_engineer_cannot_change_roles(company):
    with tenant_scope(company.a):
        ava = Membership.objects.get(user=company.ava)
    answer = client_for(company.amir).patch(
        f"{members_url(company.a)}{ava.pk}/", {"role": "owner"}, format="json"
    )
    assert answer.status_code == 403


@pytest.mark.django_db
def test_the_last_owner_cannot_leave_or_be_demoted(company):
    with tenant_scope(company.a):
        alice_membership = Membership.objects.get(user=company.alice)
    alice = client_for(company.alice)
    url = f"{members_url(company.a)}{alice_membership.pk}/"
    demoted = alice.patch(url, {"role": "viewer"}, format="json")
    assert demoted.status_code == 409
    assert "at least one owner" in demoted.json()["detail"]
    assert alice.delete(url).status_code == 409


@pytest.mark.django_db
def test_adding_an_unknown_user_or_a_duplicate_member_is_refused_with_a_sentence(company):
    alice = client_for(company.alice)
    unknown = alice.post(
        members_url(company.a), {"username": "nobody", "role": "viewer"}, format="json"
    )
    assert unknown.status_code == 400
    assert "no active user 'nobody'" in unknown.json()["detail"]
    duplicate = alice.post(
        members_url(company.a), {"username": "amir", "role": "viewer"}, format="json"
    )
    assert duplicate.status_code == 409


@pytest.mark.django_db
def test_a_role_or_tenant_in_the_body_cannot_move_a_member_to_another_tenant(company):
    alice = client_for(company.alice)
    added = alice.post(
        members_url(company.a),
        {"username": "ben", "role": "viewer", "tenant": company.b.pk},
        format="json",
    )
    assert added.status_code == 201
    with tenant_scope(company.b):
        assert (
            Membership.objects.filter(user=company.ben).values_list("role", flat=True).get()
            == "engineer"
        )
