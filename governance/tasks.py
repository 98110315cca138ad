"""Governance tasks."""

from __future__ import annotations

from celery import shared_task

from governance.audit import audit_verification_run


@shared_task(name="governance.verify_audit_trail", acks_late=True)
def verify_audit_trail() -> int:
    """Verify every audit chain and keep the result; returns the verification's id."""
    return audit_verification_run().pk
