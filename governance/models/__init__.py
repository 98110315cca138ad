"""Governance records: the audit trail, risk classifications, policies, approvals, cards, incidents."""

from governance.models.approvals import (
    ApprovalDecision,
    ApprovalPurpose,
    ApprovalRequest,
    ApprovalState,
    ModelCertification,
    Verdict,
)
from governance.models.audit import (
    AuditChainHead,
    AuditEvent,
    AuditEventImmutable,
    AuditVerification,
)
from governance.models.cards import CardStatus, ModelCard
from governance.models.delegations import Delegation
from governance.models.incidents import Incident, IncidentEntry, IncidentSeverity, IncidentStatus
from governance.models.policies import Environment, PolicyVersion
from governance.models.risk import (
    ClassificationAuthority,
    ProposalState,
    RiskClassification,
    TierProposal,
)

__all__ = [
    "ApprovalDecision",
    "ApprovalPurpose",
    "ApprovalRequest",
    "ApprovalState",
    "AuditChainHead",
    "AuditEvent",
    "AuditEventImmutable",
    "AuditVerification",
    "CardStatus",
    "ClassificationAuthority",
    "Delegation",
    "Environment",
    "Incident",
    "IncidentEntry",
    "IncidentSeverity",
    "IncidentStatus",
    "ModelCard",
    "ModelCertification",
    "PolicyVersion",
    "ProposalState",
    "RiskClassification",
    "TierProposal",
    "Verdict",
]
