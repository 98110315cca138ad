"""Governance tasks: audit verification and anchoring, approval expiry, re-certification."""

from __future__ import annotations

from celery import shared_task

from governance.anchors import audit_anchor_heads
from governance.audit import audit_verification_run
from tenants.models import Tenant
from tenants.scoping import tenant_scope


@shared_task(name="governance.verify_audit_trail", acks_late=True)
def verify_audit_trail() -> int:
    """Verify every audit chain and keep the result; returns the verification's id."""
    return audit_verification_run().pk


@shared_task(name="governance.daily_checks", acks_late=True)
def daily_checks() -> dict[str, int]:
    """Expire stale approval requests and mark certifications due or overdue, tenant by tenant."""
    from governance.services.approvals import approvals_expire, certifications_check

    expired = changed = 0
    for tenant in Tenant.objects.filter(active=True):
        with tenant_scope(tenant):
            expired += approvals_expire()
            changed += len(certifications_check())
    return {"approvals_expired": expired, "certifications_changed": changed}


@shared_task(name="governance.anchor_audit_trail", acks_late=True)
def anchor_audit_trail() -> int:
    """Write today's signed anchor of every audit chain outside the database; returns how many."""
    return audit_anchor_heads()
