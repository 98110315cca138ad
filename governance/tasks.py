"""Governance tasks: audit verification and anchoring.

The daily expiry of approvals and re-certification check is ``portal.deployments.tasks``'s, since
an expired approval cancels its deployment; it keeps its name, ``governance.daily_checks``.
"""

from __future__ import annotations

from celery import shared_task

from governance.anchors import audit_anchor_heads
from governance.audit import audit_verification_run


@shared_task(name="governance.verify_audit_trail", acks_late=True)
def verify_audit_trail() -> int:
    """Verify every audit chain and keep the result; returns the verification's id."""
    return audit_verification_run().pk


@shared_task(name="governance.anchor_audit_trail", acks_late=True)
def anchor_audit_trail() -> int:
    """Write today's signed anchor of every audit chain outside the database; returns how many."""
    return audit_anchor_heads()
