"""Where approvals meet deployment states: the one place that changes both together.

Requesting a deployment asks the policy in force what it needs and opens the approval request;
submitting it again, a reviewer's verdict, a withdrawal, expiry, a model's new risk tier (its
answered questionnaire, or a tier proposal a governance lead accepted) and a version's tampered
artifact files each close or supersede approvals and move their deployments
in the same transaction. Governance keeps policies and approvals as records
(``governance.services``) and knows nothing of deployments; deployments keep their own states,
rollout and traffic (``portal.deployments.services``, ``portal.deployments.rollout``).
"""

from portal.deployments.workflow.classifying import (
    Answered,
    classification_submit,
    tier_proposal_accept,
)
from portal.deployments.workflow.deciding import (
    approval_decide,
    approval_supersede_with_deployment,
    approval_withdraw,
    approvals_expire,
)
from portal.deployments.workflow.requesting import (
    approval_open,
    deployment_request,
    deployment_resubmit,
    deployment_review_request,
    policy_dry_run_version,
    request_context,
)
from portal.deployments.workflow.voiding import (
    approvals_void_for_version,
    model_classify,
    on_version_files_changed,
    version_tampered,
)

__all__ = [
    "Answered",
    "approval_decide",
    "approval_open",
    "approval_supersede_with_deployment",
    "approval_withdraw",
    "approvals_expire",
    "approvals_void_for_version",
    "classification_submit",
    "deployment_request",
    "deployment_resubmit",
    "deployment_review_request",
    "model_classify",
    "on_version_files_changed",
    "policy_dry_run_version",
    "request_context",
    "tier_proposal_accept",
    "version_tampered",
]
