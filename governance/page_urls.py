from django.urls import path

from governance.views import approvals, audit, catalog, incidents, overview, policies

MODEL = "t/<slug:tenant>/models/<str:name>"

urlpatterns = [
    path("t/<slug:tenant>/", overview.tenant_overview, name="tenant-overview"),
    path("governance/approvals/", approvals.approval_queue, name="approval-queue"),
    path("governance/policies/", policies.policy_list, name="policy-list"),
    path("governance/audit/", audit.audit_trail, name="audit-trail"),
    path("governance/audit/verify/", audit.audit_verify_now, name="audit-verify"),
    path(f"{MODEL}/versions/<int:version>/card/", catalog.model_card, name="model-card"),
    path("t/<slug:tenant>/incidents/", incidents.incident_list, name="incident-list"),
    path(
        "t/<slug:tenant>/incidents/<int:incident_id>/",
        incidents.incident_detail,
        name="incident-detail",
    ),
]
