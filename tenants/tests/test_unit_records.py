"""Which units' records a platform-wide list shows: ``unit_records_visible_to``.

Memberships stand for any record with a unit: Acme has three, Bravo two.
"""

from __future__ import annotations

import pytest

from tenants.access import FINANCE_ROLES, GOVERNANCE_ROLES
from tenants.authentication import TokenPrincipal
from tenants.models import Membership
from tenants.selectors import unit_records_visible_to
from tests.builders import make_token

pytestmark = pytest.mark.django_db


def units_seen(principal, *, readers=GOVERNANCE_ROLES) -> list[str]:
    records = Membership.objects.dangerously_across_tenants()
    seen = unit_records_visible_to(principal, records, readers=readers)
    return sorted(seen.values_list("tenant__slug", flat=True))


def test_the_platform_roles_that_read_the_list_see_every_units_records(company):
    everything = ["acme-retail"] * 3 + ["bravo-marketing"] * 2
    assert units_seen(company.grace) == everything
    assert units_seen(company.adam) == everything
    assert units_seen(company.fiona, readers=FINANCE_ROLES) == everything


def test_another_platform_role_sees_only_the_units_it_belongs_to(company):
    assert units_seen(company.fiona) == []
    assert units_seen(company.grace, readers=FINANCE_ROLES) == []


def test_a_member_sees_the_records_of_their_own_units(company):
    assert units_seen(company.alice) == ["acme-retail"] * 3
    assert units_seen(company.ben) == ["bravo-marketing"] * 2


def test_a_member_no_longer_sees_a_deactivated_unit(company):
    company.a.active = False
    company.a.save(update_fields=["active"])
    assert units_seen(company.alice) == []


def test_a_token_that_reads_sees_its_own_units_records_and_one_that_does_not_sees_none(company):
    reader, _ = make_token(company.b, ["read"])
    deployer, _ = make_token(company.b, ["deploy"], name="deployer")
    assert units_seen(TokenPrincipal(reader)) == ["bravo-marketing"] * 2
    assert units_seen(TokenPrincipal(deployer)) == []
