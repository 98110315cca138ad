from django.urls import path

from governance.views import approvals, audit, catalog, delegations, incidents, overview, policies

urlpatterns = [
    path("governance/approvals/", approvals.approval_queue, name="approval-queue"),
    path("governance/delegations/", delegations.delegation_list, name="approval-delegations"),
    path(
        "governance/delegations/<int:delegation_id>/end/",
        delegations.delegation_end_now,
        name="approval-delegation-end",
    ),
    path("governance/policies/", policies.policy_list, name="policy-list"),
    path("governance/audit/", audit.audit_trail, name="audit-trail"),
    path("governance/audit/verify/", audit.audit_verify_now, name="audit-verify"),
]

tenant_urlpatterns = [
    path("", overview.tenant_overview, name="tenant-overview"),
    path("models/<str:name>/versions/<int:version>/card/", catalog.model_card, name="model-card"),
    path("incidents/", incidents.incident_list, name="incident-list"),
    path("incidents/<int:incident_id>/", incidents.incident_detail, name="incident-detail"),
]
