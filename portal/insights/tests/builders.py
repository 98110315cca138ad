"""Builders of the rows the insights tests build on: deployments at given times, rollbacks,
approval requests, monitors and drift runs, incidents."""

from __future__ import annotations

from datetime import datetime, timedelta
from unittest import mock

from django.db import transaction
from django.utils import timezone

from governance.models import ApprovalRequest, Incident, PolicyVersion
from portal.core.audit import audit_record
from portal.deployments.models import Deployment
from portal.monitoring.models import DriftRun, Monitor
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR


def deploy(
    tenant,
    version,
    *,
    name: str = "churn",
    revision: int = 1,
    environment: str = "production",
    state: str = "live",
    created_at: datetime | None = None,
    live_from: datetime | None = None,
    outcome: str = "require_approvals",
    requested_by=None,
    **extra,
) -> Deployment:
    now = timezone.now()
    created_at = created_at or now - timedelta(hours=2)
    if live_from is None and state in ("live", "rolled_back", "retired"):
        live_from = created_at + timedelta(hours=1)
    with tenant_scope(tenant):
        return Deployment.objects.create(
            tenant=tenant,
            name=name,
            revision=revision,
            model_version=version,
            environment=environment,
            instance_type="cpu.small",
            state=state,
            created_at=created_at,
            live_from=live_from,
            traffic_weight=100 if state == "live" else 0,
            decision={"outcome": outcome},
            requested_by=requested_by,
            requested_by_label=requested_by.username if requested_by else "ci",
            **extra,
        )


def event(tenant, *, action: str, object_type: str, object_id, after=None, at=None) -> None:
    """One audit event, written at ``at`` (now when not given)."""
    when = at or timezone.now()
    with (
        tenant_scope(tenant),
        transaction.atomic(),
        mock.patch("django.utils.timezone.now", return_value=when),
    ):
        audit_record(
            actor=TEST_ACTOR,
            action=action,
            object_type=object_type,
            object_id=object_id,
            tenant_id=tenant.pk,
            after=after,
        )


def rollback(tenant, newest: Deployment, *, to_revision: int, took: timedelta, at=None) -> None:
    """The audit events of a rollback: the decision, then the traffic moving ``took`` later."""
    at = at or timezone.now() - took
    event(
        tenant,
        action="deployment.rolled_back",
        object_type="deployment",
        object_id=newest.pk,
        after={"state": "rolled_back", "to_revision": to_revision},
        at=at,
    )
    event(
        tenant,
        action="deployment.traffic",
        object_type="endpoint",
        object_id=newest.name,
        after={"why": f"rolled back from r{newest.revision} to r{to_revision}"},
        at=at + took,
    )


def monitor(tenant, endpoint: str, **extra) -> Monitor:
    with tenant_scope(tenant):
        return Monitor.objects.create(
            tenant=tenant, endpoint=endpoint, created_by_label="test", **extra
        )


def incident(tenant, *, opened_at=None, resolved_after=None, source="drift", **extra) -> Incident:
    opened_at = opened_at or timezone.now() - timedelta(days=1)
    with tenant_scope(tenant):
        return Incident.objects.create(
            tenant=tenant,
            title=extra.pop("title", "Drift on churn"),
            severity=extra.pop("severity", "sev3"),
            source=source,
            opened_by_label="test",
            opened_at=opened_at,
            resolved_at=opened_at + resolved_after if resolved_after else None,
            status="resolved" if resolved_after else "open",
            **extra,
        )


def approval(
    tenant,
    deployment,
    *,
    tier="high",
    age=timedelta(hours=2),
    requested_by=None,
    expires_in=timedelta(days=7),
) -> ApprovalRequest:
    policy, _ = PolicyVersion.objects.get_or_create(
        name="default", version=1, defaults={"document": "x", "content_hash": "x", "source": "t"}
    )
    with tenant_scope(tenant):
        return ApprovalRequest.objects.create(
            tenant=tenant,
            deployment=deployment,
            model_version=deployment.model_version,
            policy_version=policy,
            risk_tier=tier,
            risk_rank=1 if tier == "high" else 3,
            requested_by=requested_by,
            requested_by_label="amir",
            created_at=timezone.now() - age,
            expires_at=timezone.now() + expires_in,
        )


def drifted(tenant, deployment, *, status: str = "drift", at=None) -> DriftRun:
    """A finished drift run of ``deployment`` that found ``status``."""
    with tenant_scope(tenant):
        return DriftRun.objects.create(
            tenant=tenant,
            deployment=deployment,
            status="succeeded",
            drift_status=status,
            drifted_columns=["age"] if status == "drift" else [],
            created_at=at or timezone.now(),
            finished_at=at or timezone.now(),
        )
