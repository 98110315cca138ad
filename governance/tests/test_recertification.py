"""High-risk models need a fresh approval every N days; the daily check marks and notifies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.models import AuditEvent, ModelCertification
from governance.tests.builders import request
from portal.deployments.tasks import daily_checks
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.django_db


def approve(company, deployment):
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    for lead in (company.grace, company.gus):
        client_for(lead).post(
            f"/api/v1/approvals/{approval.pk}/decisions/", {"verdict": "approve"}, format="json"
        )


def test_a_production_approval_certifies_for_180_days_and_the_check_marks_due_then_overdue(
    company, high_risk_version, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    approve(company, request(company.a, high_risk_version, company.amir))
    with tenant_scope(company.a):
        certification = ModelCertification.objects.get()
    assert (certification.due_at - certification.certified_at).days == 180
    assert certification.state == "current"

    with tenant_scope(company.a):
        ModelCertification.objects.update(due_at=timezone.now() + timedelta(days=3))
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert daily_checks()["certifications_changed"] == 1
    with tenant_scope(company.a):
        assert ModelCertification.objects.get().state == "due"
    assert {r for m in mailoutbox for r in m.to} == {
        "alice@example.com",
        "grace@example.com",
        "gus@example.com",
    }
    assert "is due for re-certification" in mailoutbox[0].subject

    with tenant_scope(company.a):
        ModelCertification.objects.update(
            certified_at=timezone.now() - timedelta(days=181),
            due_at=timezone.now() - timedelta(days=1),
        )
    daily_checks()
    assert daily_checks()["certifications_changed"] == 0  # no repeated notice
    with tenant_scope(company.a):
        assert ModelCertification.objects.get().state == "overdue"
        actions = list(
            AuditEvent.objects.filter(action__startswith="certification.").values_list(
                "action", flat=True
            )
        )
    assert actions == ["certification.renewed", "certification.due", "certification.overdue"]


def test_stale_approval_requests_expire(company, high_risk_version):
    deployment = request(company.a, high_risk_version, company.amir)
    with tenant_scope(company.a):
        deployment.approvals.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert daily_checks()["approvals_expired"] == 1
    with tenant_scope(company.a):
        deployment.refresh_from_db()
        assert deployment.approvals.get().state == "expired"
    assert deployment.state == "cancelled"
