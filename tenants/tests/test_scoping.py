"""Tenant scoping fails closed: no scope, no tenant data."""

from __future__ import annotations

import threading

import pytest

from tenants.models import Membership, ServiceToken
from tenants.scoping import TenantScopeMismatch, TenantScopeMissing, tenant_scope


@pytest.mark.django_db
def test_an_orm_query_on_tenant_data_outside_a_scope_raises(company):
    with pytest.raises(TenantScopeMissing):
        Membership.objects.count()
    with pytest.raises(TenantScopeMissing):
        list(ServiceToken.objects.filter(name="x"))


@pytest.mark.django_db
def test_inside_a_scope_queries_see_only_that_tenants_rows(company):
    with tenant_scope(company.b):
        assert set(Membership.objects.values_list("user__username", flat=True)) == {"bob", "ben"}


@pytest.mark.django_db
def test_a_new_thread_starts_without_a_scope(company):
    errors = []

    def work():
        try:
            Membership.objects.count()
        except TenantScopeMissing as error:
            errors.append(error)

    with tenant_scope(company.a):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert len(errors) == 1


@pytest.mark.django_db
def test_writing_a_row_of_one_tenant_inside_another_tenants_scope_raises(company):
    with tenant_scope(company.a):
        membership = Membership.objects.get(user=company.amir)
    with tenant_scope(company.b), pytest.raises(TenantScopeMismatch):
        membership.save()
    with pytest.raises(TenantScopeMissing):
        membership.delete()


@pytest.mark.django_db
def test_entering_another_tenants_scope_inside_a_scope_raises(company):
    with tenant_scope(company.a), pytest.raises(TenantScopeMismatch), tenant_scope(company.b):
        pass


@pytest.mark.django_db
def test_reverse_relations_are_scoped_too(company):
    with pytest.raises(TenantScopeMissing):
        list(company.amir.memberships.all())
    with tenant_scope(company.b):
        assert list(company.amir.memberships.all()) == []
