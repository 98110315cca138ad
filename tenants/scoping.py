"""Tenant scoping: the one place where tenant isolation lives, and it fails closed.

A context variable holds the tenant being served. ``tenant_scope(tenant)`` sets it for a view, a
task or a command. The default manager of every tenant-owned model filters by it and raises
``TenantScopeMissing`` when no scope is set, so a forgotten scope is an error, never a leak.
Saving or deleting a tenant-owned row outside its tenant's scope raises too.

The way around it is named so nobody types it by accident: ``Model.objects.dangerously_across_tenants()``.
Each use is a cross-tenant read that a reviewer should be able to justify in one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from tenants.models import Tenant


class TenantScopeMissing(RuntimeError):
    """Tenant-owned data was touched outside of ``tenant_scope``."""


class TenantScopeMismatch(RuntimeError):
    """A row of one tenant was written inside another tenant's scope."""


_current_tenant_id: ContextVar[int | None] = ContextVar("current_tenant_id", default=None)


def _tenant_id(tenant: Tenant | int) -> int:
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    if not isinstance(tenant_id, int):
        raise TypeError(f"tenant_scope needs a saved tenant or its id, got {tenant!r}")
    return tenant_id


@contextmanager
def tenant_scope(tenant: Tenant | int) -> Iterator[int]:
    """Serve ``tenant``: tenant-owned queries inside the block see only its rows.

    Scopes nest only for the same tenant; entering another tenant's scope inside one raises.
    """
    tenant_id = _tenant_id(tenant)
    outer = _current_tenant_id.get()
    if outer is not None and outer != tenant_id:
        raise TenantScopeMismatch(
            f"already serving tenant {outer}; leave its scope before serving tenant {tenant_id}"
        )
    token = _current_tenant_id.set(tenant_id)
    try:
        yield tenant_id
    finally:
        _current_tenant_id.reset(token)


def current_tenant_id() -> int:
    """The id of the tenant being served; raises ``TenantScopeMissing`` outside a scope."""
    tenant_id = _current_tenant_id.get()
    if tenant_id is None:
        raise TenantScopeMissing(
            "tenant-owned data was queried without a tenant scope; wrap the work in "
            "`with tenant_scope(tenant):` (views get one from the URL)"
        )
    return tenant_id


class TenantScopedManager(models.Manager):
    """Default manager of tenant-owned models: only the scoped tenant's rows, or an error."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(tenant_id=current_tenant_id())

    def dangerously_across_tenants(self) -> models.QuerySet:
        """Every tenant's rows. Only for platform-wide paths that checked the caller's role."""
        return super().get_queryset()


class TenantOwnedModel(models.Model):
    """Base of every model whose rows belong to one tenant."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="%(app_label)s_%(class)s_set"
    )

    objects = TenantScopedManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._check_scope()
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        self._check_scope()
        return super().delete(*args, **kwargs)

    def _check_scope(self) -> None:
        if self.tenant_id != current_tenant_id():
            raise TenantScopeMismatch(
                f"{type(self).__name__} of tenant {self.tenant_id} written inside the scope of "
                f"tenant {current_tenant_id()}"
            )
