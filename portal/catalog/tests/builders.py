"""Helpers the catalog tests share: a registry sync of one unit, run inside its scope."""

from __future__ import annotations

from portal.catalog.models import SyncRun
from portal.catalog.sync import registry_sync
from tenants.scoping import tenant_scope


def sync(tenant, **kwargs) -> SyncRun:
    with tenant_scope(tenant):
        return registry_sync(tenant=tenant, **kwargs)
