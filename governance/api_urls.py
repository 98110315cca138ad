from django.urls import path

from governance.api import approvals, audit, catalog, delegations, incidents, policies, proposals

VERSION = "models/<str:name>/versions/<int:version>"

urlpatterns = [
    path("audit-events/", audit.AuditEventListView.as_view(), name="api-audit-events"),
    path("approvals/", approvals.ApprovalListView.as_view(), name="api-approvals"),
    path(
        "approvals/<int:approval_id>/", approvals.ApprovalDetailView.as_view(), name="api-approval"
    ),
    path("policies/", policies.PolicyListView.as_view(), name="api-policies"),
    path("delegations/", delegations.DelegationListView.as_view(), name="api-delegations"),
    path(
        "delegations/<int:delegation_id>/end/",
        delegations.DelegationEndView.as_view(),
        name="api-delegation-end",
    ),
]

tenant_urlpatterns = [
    path(f"{VERSION}/card/", catalog.ModelCardView.as_view(), name="api-card"),
    path(f"{VERSION}/card/submit/", catalog.ModelCardSubmitView.as_view(), name="api-card-submit"),
    path(f"{VERSION}/card/review/", catalog.ModelCardReviewView.as_view(), name="api-card-review"),
    path(f"{VERSION}/card/markdown/", catalog.ModelCardMarkdownView.as_view(), name="api-card-md"),
    path(f"{VERSION}/card/pdf/", catalog.ModelCardPdfView.as_view(), name="api-card-pdf"),
    path(f"{VERSION}/evidence/", catalog.EvidencePackView.as_view(), name="api-evidence"),
    path(
        "models/<str:name>/tier-proposals/",
        proposals.ModelTierProposalListView.as_view(),
        name="api-model-tier-proposals",
    ),
    path(
        "tier-proposals/", proposals.OpenTierProposalListView.as_view(), name="api-tier-proposals"
    ),
    path(
        "tier-proposals/<int:proposal_id>/",
        proposals.TierProposalDetailView.as_view(),
        name="api-tier-proposal",
    ),
    path("incidents/", incidents.IncidentListView.as_view(), name="api-incidents"),
    path(
        "incidents/<int:incident_id>/", incidents.IncidentDetailView.as_view(), name="api-incident"
    ),
    path(
        "incidents/<int:incident_id>/entries/",
        incidents.IncidentEntryView.as_view(),
        name="api-incident-entries",
    ),
]
