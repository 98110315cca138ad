"""Governance tasks: audit verification and anchoring, and chasing undecided approval requests.

The daily expiry of approvals and re-certification check is ``portal.deployments.tasks``'s, since
an expired approval cancels its deployment; it keeps its name, ``governance.daily_checks``.
"""

from __future__ import annotations

from celery import shared_task

from governance.anchors import audit_anchor_heads
from governance.audit import audit_verification_run
from governance.services.reminders import approvals_chase
from tenants.models import Tenant
from tenants.scoping import tenant_scope


@shared_task(name="governance.verify_audit_trail", acks_late=True)
def verify_audit_trail() -> int:
    """Verify every audit chain and keep the result; returns the verification's id."""
    return audit_verification_run().pk


@shared_task(name="governance.anchor_audit_trail", acks_late=True)
def anchor_audit_trail() -> int:
    """Write today's signed anchor of every audit chain outside the database; returns how many."""
    return audit_anchor_heads()


@shared_task(name="governance.remind_approvals", acks_late=True)
def remind_approvals() -> dict[str, int]:
    """Remind and escalate pending approval requests that wait too long, tenant by tenant."""
    totals = {"reminded": 0, "escalated": 0}
    for tenant in Tenant.objects.filter(active=True):
        with tenant_scope(tenant):
            for key, count in approvals_chase().items():
                totals[key] += count
    return totals
