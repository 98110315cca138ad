"""The demo company: `seed_demo` gives every role something real to look at, and runs twice safely."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from chargeback.models import BillingPeriod, Budget, LineDispute
from chargeback.services.close import period_statements
from governance.models import ApprovalRequest
from portal.deployments.models import Deployment
from portal.monitoring.models import Baseline, Monitor
from tenants.models import Tenant
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db


def states(slug: str) -> dict[str, str]:
    with tenant_scope(Tenant.objects.get(slug=slug)):
        return {d.name: d.state for d in Deployment.objects.all()}


def test_the_demo_has_classified_models_and_requests_waiting_for_governance(mlflow_server, capsys):
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent

    assert states("retail-credit") == {
        "credit-scoring-production": "pending_approval",
        "credit-limit-staging": "pending_approval",
        "credit-limit-pilot": "retired",
    }
    assert states("marketing") == {
        "churn-prediction-staging": "approved",
        "churn-prediction-pilot": "retired",
    }
    with tenant_scope(Tenant.objects.get(slug="retail-credit")):
        approval = ApprovalRequest.objects.get(model_version__model__name="credit-scoring")
        assert approval.requirements == {"governance_lead": 2}
        assert approval.model_version.model.risk_tier == "high"
    assert "Policy default v1 loaded" in capsys.readouterr().out


def test_the_demo_has_a_drift_monitor_and_last_months_bills_in_several_states(mlflow_server):
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent

    marketing = Tenant.objects.get(slug="marketing")
    with tenant_scope(marketing):
        assert Monitor.objects.get().endpoint == "churn-prediction-staging"
        assert Baseline.objects.get().status == "ready"
    period = BillingPeriod.objects.get(state="closed")
    by_tenant = {s.tenant.slug: s for s in period_statements(period).select_related("tenant")}
    assert by_tenant["retail-credit"].state == "finalized"
    assert by_tenant["retail-credit"].number.startswith("CB-")
    assert by_tenant["marketing"].state == "in_review"
    with tenant_scope(marketing):
        assert LineDispute.objects.filter(line__statement=by_tenant["marketing"]).count() == 1
    for statement in by_tenant.values():
        assert statement.total > 0
    with tenant_scope(marketing):
        assert Budget.objects.get().amount > 0
