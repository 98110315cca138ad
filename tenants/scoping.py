"""Tenant scoping: the one place where tenant isolation lives, and it fails closed.

A context variable holds the tenant being served. ``tenant_scope(tenant)`` sets it for a view, a
task or a command. The default manager of every tenant-owned model filters by it and raises
``TenantScopeMissing`` when no scope is set, so a forgotten scope is an error, never a leak.
Saving or deleting a tenant-owned row outside its tenant's scope raises too.

The way around it is named so nobody types it by accident: ``Model.objects.dangerously_across_tenants()``.
Each use is a cross-tenant read that a reviewer should be able to justify in one line. Its queries,
and only its queries, run with PostgreSQL's cross-tenant flag on (``tenants.row_security``), and
every call site is logged on the ``portal.cross_tenant`` logger. Work that is not one queryset
(raw SQL, ``COPY``) uses the context manager of the same name with a reason.
"""

from __future__ import annotations

import logging
import sys
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
# True while a cross-tenant queryset or block runs its SQL: the database then shows every tenant.
_across_tenants: ContextVar[bool] = ContextVar("across_tenants", default=False)

audit_log = logging.getLogger("portal.cross_tenant")
_logged_call_sites: set[str] = set()


def _call_site(depth: int) -> str:
    frame = sys._getframe(depth + 1)
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def _audit(what: str, call_site: str) -> None:
    # Every call site once per process at INFO (the audited path), every use at DEBUG.
    if call_site not in _logged_call_sites:
        _logged_call_sites.add(call_site)
        audit_log.info("cross-tenant access to %s from %s", what, call_site)
    else:
        audit_log.debug("cross-tenant access to %s from %s", what, call_site)


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


def scoped_tenant_id() -> int | None:
    """The id of the tenant being served, or ``None`` outside a scope."""
    return _current_tenant_id.get()


def across_tenants_active() -> bool:
    """Whether the SQL about to run belongs to an explicit cross-tenant path."""
    return _across_tenants.get()


@contextmanager
def _sql_across_tenants() -> Iterator[None]:
    token = _across_tenants.set(True)
    try:
        yield
    finally:
        _across_tenants.reset(token)


@contextmanager
def dangerously_across_tenants(reason: str) -> Iterator[None]:
    """Run a block's SQL with every tenant's rows visible to the database.

    For platform-wide work that is not one queryset (raw SQL, ``COPY``); querysets use
    ``Model.objects.dangerously_across_tenants()``. The reason and the caller are logged.
    """
    _audit(reason, _call_site(2))
    with _sql_across_tenants():
        yield


def current_tenant_id() -> int:
    """The id of the tenant being served; raises ``TenantScopeMissing`` outside a scope."""
    tenant_id = _current_tenant_id.get()
    if tenant_id is None:
        raise TenantScopeMissing(
            "tenant-owned data was queried without a tenant scope; wrap the work in "
            "`with tenant_scope(tenant):` (views get one from the URL)"
        )
    return tenant_id


class CrossTenantQuerySet(models.QuerySet):
    """Every tenant's rows: each query it runs carries the cross-tenant flag to the database.

    Querysets derived from it (``filter``, ``values``, slices) keep the flag; objects reached
    from its rows afterwards (``row.other``) do not, so select what a cross-tenant path needs.
    """

    def _fetch_all(self) -> None:
        with _sql_across_tenants():
            super()._fetch_all()

    def _iterator(self, use_chunked_fetch: bool, chunk_size: int | None) -> Iterator[Any]:
        # No server-side cursor: its rows would be read later, under whatever the flag is then.
        rows = super()._iterator(False, chunk_size)  # type: ignore[misc]
        while True:
            with _sql_across_tenants():
                try:
                    row = next(rows)
                except StopIteration:
                    return
            yield row

    def count(self) -> int:
        with _sql_across_tenants():
            return super().count()

    def exists(self) -> bool:
        with _sql_across_tenants():
            return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        with _sql_across_tenants():
            return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        with _sql_across_tenants():
            return super().update(**kwargs)

    def _update(self, values: Any) -> Any:
        with _sql_across_tenants():
            return super()._update(values)  # type: ignore[misc]

    def delete(self) -> tuple[int, dict[str, int]]:
        with _sql_across_tenants():
            return super().delete()

    def bulk_create(self, *args: Any, **kwargs: Any) -> list[Any]:
        with _sql_across_tenants():
            return super().bulk_create(*args, **kwargs)

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        with _sql_across_tenants():
            return super().bulk_update(*args, **kwargs)

    def explain(self, *args: Any, **kwargs: Any) -> str:
        with _sql_across_tenants():
            return super().explain(*args, **kwargs)


class TenantScopedManager(models.Manager):
    """Default manager of tenant-owned models: only the scoped tenant's rows, or an error."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(tenant_id=current_tenant_id())

    def dangerously_across_tenants(self) -> models.QuerySet:
        """Every tenant's rows. Only for platform-wide paths that checked the caller's role."""
        _audit(self.model._meta.label, _call_site(1))
        queryset = super().get_queryset()
        queryset.__class__ = _cross_tenant_class(type(queryset))
        return queryset


_cross_tenant_classes: dict[type[models.QuerySet], type[CrossTenantQuerySet]] = {}


def _cross_tenant_class(queryset_class: type[models.QuerySet]) -> type[CrossTenantQuerySet]:
    """``queryset_class`` (a model's own queryset, with its methods) carrying the flag."""
    if issubclass(queryset_class, CrossTenantQuerySet):
        return queryset_class
    if queryset_class not in _cross_tenant_classes:
        name = f"CrossTenant{queryset_class.__name__}"
        _cross_tenant_classes[queryset_class] = type(
            name, (CrossTenantQuerySet, queryset_class), {"__module__": __name__}
        )
    return _cross_tenant_classes[queryset_class]


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
