"""The demo company: `seed_demo` gives every role something real to look at, and runs twice safely."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from governance.models import ApprovalRequest
from portal.deployments.models import Deployment
from tenants.models import Tenant
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db


def states(slug: str) -> dict[str, str]:
    with tenant_scope(Tenant.objects.get(slug=slug)):
        return {
            d.model_version.model.name: d.state
            for d in Deployment.objects.select_related("model_version__model")
        }


def test_the_demo_has_classified_models_and_requests_waiting_for_governance(mlflow_server, capsys):
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent

    assert states("retail-credit") == {
        "credit-scoring": "pending_approval",
        "credit-limit": "pending_approval",
    }
    assert states("marketing") == {"churn-prediction": "approved"}
    with tenant_scope(Tenant.objects.get(slug="retail-credit")):
        approval = ApprovalRequest.objects.get(model_version__model__name="credit-scoring")
        assert approval.requirements == {"governance_lead": 2}
        assert approval.model_version.model.risk_tier == "high"
    assert "Policy default v1 loaded" in capsys.readouterr().out
