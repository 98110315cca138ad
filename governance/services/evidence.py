"""The evidence pack of a model version: one ZIP a regulator can read, under the AI Act headings.

Layout::

    README.md                         what is where, and how to check it
    manifest.json                     SHA-256 of every file
    1-risk-management/                risk classification (answers, tier, classifier), policy
    2-data-governance/                lineage: run, datasets with digests, params, signature
    3-record-keeping/                 the audit events of the model, its versions, deployments,
                                      approvals, card and incidents, with the chain verification;
                                      the decision logs of its deployments (a section monitoring
                                      adds through ``governance.evidence_sections``)
    4-transparency/                   the model card as Markdown, PDF and JSON
    5-human-oversight/                every approval request with its reviewers' identities
    6-accuracy-robustness/            evaluation metrics, incidents, drift history
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from governance.audit import audit_verify
from governance.cards_render import card_markdown, card_pdf
from governance.classification import questionnaire
from governance.evidence_sections import evidence_sections
from governance.models import (
    ApprovalRequest,
    AuditEvent,
    Incident,
    ModelCard,
    PolicyVersion,
    RiskClassification,
)
from governance.services.cards import card_document, card_or_draft
from portal.catalog.models import ModelVersion

HEADINGS = {
    "1-risk-management": "Risk management (Article 9)",
    "2-data-governance": "Data and data governance (Article 10)",
    "3-record-keeping": "Record keeping (Article 12)",
    "4-transparency": "Transparency and information to deployers (Article 13)",
    "5-human-oversight": "Human oversight (Article 14)",
    "6-accuracy-robustness": "Accuracy, robustness and cybersecurity (Article 15)",
}


def _json(value: Any) -> bytes:
    return json.dumps(
        value, cls=DjangoJSONEncoder, indent=2, sort_keys=True, ensure_ascii=False
    ).encode()


def _approvals(version: ModelVersion) -> list[dict[str, Any]]:
    approvals = (
        ApprovalRequest.objects.filter(model_version__model=version.model)
        .select_related("policy_version", "deployment", "model_version", "requested_by")
        .prefetch_related("decisions__reviewer")
        .order_by("created_at")
    )
    rows = []
    for approval in approvals:
        rows.append(
            {
                "id": approval.pk,
                "for_this_version": approval.model_version_id == version.pk,
                "version": approval.model_version.version,
                "artifact_digest": approval.artifact_digest,
                "deployment": approval.deployment_id,
                "environment": approval.deployment.environment,
                "state": approval.state,
                "risk_tier": approval.risk_tier,
                "requirements": approval.requirements,
                "reasons": approval.reasons,
                "policy": {
                    "name": approval.policy_version.name,
                    "version": approval.policy_version.version,
                    "content_hash": approval.policy_version.content_hash,
                },
                "requested_by": approval.requested_by_label,
                "requested_at": approval.created_at,
                "closed_at": approval.closed_at,
                "decisions": [
                    {
                        "reviewer": {
                            "username": d.reviewer.get_username(),
                            "name": d.reviewer.get_full_name(),
                            "email": d.reviewer.email,
                            "platform_role": d.reviewer.platform_role,
                        },
                        "counted_as": d.reviewer_role,
                        "verdict": d.verdict,
                        "comment": d.comment,
                        "at": d.created_at,
                    }
                    for d in approval.decisions.all()
                ],
            }
        )
    return rows


def _audit_events(
    version: ModelVersion, approval_ids: list[int], card: ModelCard | None
) -> list[dict]:
    model = version.model
    deployment_ids = list(
        model.versions.filter(deployments__isnull=False).values_list("deployments", flat=True)
    )
    incident_ids = list(Incident.objects.filter(model=model).values_list("pk", flat=True))
    version_ids = list(model.versions.values_list("pk", flat=True))
    objects = (
        Q(object_type="catalog_model", object_id=str(model.pk))
        | Q(object_type="model_version", object_id__in=[str(i) for i in version_ids])
        | Q(object_type="deployment", object_id__in=[str(i) for i in deployment_ids])
        | Q(object_type="approval", object_id__in=[str(i) for i in approval_ids])
        | Q(object_type="incident", object_id__in=[str(i) for i in incident_ids])
    )
    if card is not None:
        objects |= Q(object_type="model_card", object_id=str(card.pk))
    events = AuditEvent.objects.filter(objects).order_by("sequence")
    return [
        {
            "chain": e.chain,
            "sequence": e.sequence,
            "at": e.created_at,
            "actor": {"type": e.actor_type, "id": e.actor_id, "label": e.actor_label},
            "action": e.action,
            "object": {"type": e.object_type, "id": e.object_id},
            "before": e.before,
            "after": e.after,
            "request_id": e.request_id,
            "prev_seal": e.prev_seal,
            "seal": e.seal,
        }
        for e in events
    ]


def _drift_history(version: ModelVersion) -> dict[str, Any]:
    deployments = version.deployments.order_by("created_at")
    return {
        "deployments": [
            {
                "id": d.pk,
                "environment": d.environment,
                "state": d.state,
                "drift_monitor": d.drift_monitor,
                "requested_at": d.created_at,
            }
            for d in deployments
        ],
        "reports": [],
        "note": "Drift reports of the deployments above, newest first, once monitoring has run.",
    }


def evidence_pack(*, version: ModelVersion, generated_by: str) -> tuple[str, bytes]:
    """Build the evidence pack of ``version`` (inside its tenant's scope); returns name and bytes."""
    model = version.model
    classification = RiskClassification.objects.filter(model=model).first()
    classifications = list(RiskClassification.objects.filter(model=model).order_by("created_at"))
    card = ModelCard.objects.filter(model_version=version).first()
    document = card_document(card_or_draft(version))
    if card is None:
        document["status"] = "not started"
    approvals = _approvals(version)
    chain = audit_verify(tenant_ids=[version.tenant_id])[0]
    files: dict[str, bytes] = {
        "1-risk-management/risk_classification.json": _json(
            {
                "model": model.name,
                "tier": model.risk_tier,
                "current": None
                if classification is None
                else {
                    "tier": classification.tier,
                    "reasons": classification.reasons,
                    "answers": classification.answers,
                    "classifier_version": classification.classifier_version,
                    "classified_by": classification.classified_by_label,
                    "set_by": classification.set_by,
                    "classified_at": classification.created_at,
                },
                "history": [
                    {
                        "tier": c.tier,
                        "classified_by": c.classified_by_label,
                        "set_by": c.set_by,
                        "at": c.created_at,
                        "classifier_version": c.classifier_version,
                    }
                    for c in classifications
                ],
                "questionnaire": questionnaire(),
            }
        ),
        "2-data-governance/lineage.json": _json(
            {
                "model": model.name,
                "version": version.version,
                "run_id": version.run_id,
                "source": version.source,
                "artifact_digest": version.artifact_digest,
                "artifact_size_bytes": version.artifact_size_bytes,
                "datasets": version.datasets,
                "params": version.params,
                "signature": version.signature,
                "tags": version.mlflow_tags,
            }
        ),
        "3-record-keeping/audit_events.json": _json(
            _audit_events(version, [a["id"] for a in approvals], card)
        ),
        "3-record-keeping/chain_verification.json": _json(
            {
                "chain": chain.chain,
                "events_checked": chain.events_checked,
                "ok": chain.ok,
                "first_broken_sequence": chain.first_broken_sequence,
                "reason": chain.reason,
                "verified_at": timezone.now(),
            }
        ),
        "4-transparency/model_card.md": card_markdown(document).encode(),
        "4-transparency/model_card.pdf": card_pdf(document),
        "4-transparency/model_card.json": _json(document),
        "5-human-oversight/approvals.json": _json(approvals),
        "6-accuracy-robustness/evaluation.json": _json(
            {"metrics": version.metrics, "run_id": version.run_id}
        ),
        "6-accuracy-robustness/incidents.json": _json(
            [
                {
                    "id": i.pk,
                    "title": i.title,
                    "severity": i.severity,
                    "status": i.status,
                    "source": i.source,
                    "opened_at": i.opened_at,
                    "resolved_at": i.resolved_at,
                    "resolution": i.resolution,
                    "timeline": [
                        {"at": e.created_at, "kind": e.kind, "text": e.text, "by": e.author_label}
                        for e in i.entries.all()
                    ],
                }
                for i in Incident.objects.filter(model=model).prefetch_related("entries")
            ]
        ),
        "6-accuracy-robustness/drift_history.json": _json(_drift_history(version)),
    }
    for approval in approvals:
        name = f"1-risk-management/policies/{approval['policy']['name']}-v{approval['policy']['version']}.yaml"
        if name not in files:
            policy = PolicyVersion.objects.get(
                name=approval["policy"]["name"], version=approval["policy"]["version"]
            )
            files[name] = policy.document.encode()
    generated_at = timezone.now()
    for section in evidence_sections():
        files.update(section(version=version, start=None, end=generated_at))
    readme = [
        f"# Evidence pack: {model.name} version {version.version}",
        "",
        f"Tenant: {version.tenant.name}. Generated {generated_at:%Y-%m-%d %H:%M} UTC by {generated_by}.",
        f"Risk tier: {model.risk_tier or 'not classified'}. Artifact digest: {version.artifact_digest or 'unknown'}.",
        "",
        "Every file's SHA-256 is in manifest.json. Audit events carry their chain hashes; "
        "3-record-keeping/chain_verification.json records the check made when this pack was built.",
        "",
    ]
    for folder, heading in HEADINGS.items():
        readme.append(f"## {heading}")
        readme.extend(f"- {name}" for name in sorted(files) if name.startswith(folder + "/"))
        readme.append("")
    files["README.md"] = "\n".join(readme).encode()
    manifest = {
        "model": model.name,
        "version": version.version,
        "tenant": version.tenant.slug,
        "generated_at": generated_at,
        "generated_by": generated_by,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    files["manifest.json"] = _json(manifest)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            archive.writestr(name, files[name])
    filename = f"evidence-{version.tenant.slug}-{model.name}-v{version.version}.zip"
    return filename, buffer.getvalue()
