"""Model cards (prefilled, scored, reviewed, exported) and the evidence pack of a version."""

from __future__ import annotations

import io
import json
import re
import zipfile
from urllib.parse import quote, unquote

import pytest

from governance.models import AuditEvent
from governance.tests.builders import classify, make_version, request
from portal.core.api.errors import NOT_FOUND_BODY
from tenants.models import TenantRole
from tenants.scoping import tenant_scope
from tests.builders import add_member, client_for

pytestmark = pytest.mark.django_db
CARD = "/api/v1/tenants/acme-retail/models/credit-scorer/versions/1/card/"
EVIDENCE = "/api/v1/tenants/acme-retail/models/credit-scorer/versions/1/evidence/"
FILL = {
    "intended_uses": "Pre-screening of consumer credit applications, reviewed by an officer.",
    "factors": "Income volatility and thin credit files lower accuracy.",
    "limitations": "Not for business loans.",
    "ethical_considerations": "Age and postcode are excluded; the fairness gap is tracked.",
    "owner": "Alice Owner",
}


def test_a_card_is_prefilled_from_the_catalog_and_mlflow(company):
    version = make_version(company.a)
    classify(company.a, version, "high")

    card = client_for(company.ava).get(CARD).json()

    assert card["purpose"] == "Scores credit applications."
    assert card["risk_rating"] == "high"
    assert "credit scoring" in card["risk_explanation"]
    assert card["training_data"] == "Dataset 'credit-train' (training), from s3://x, digest d1g35t."
    assert card["evaluation_metrics"] == {
        "val_accuracy": 0.91,
        "fairness_demographic_parity_difference": 0.04,
    }
    assert card["completeness"] == 50
    assert card["missing"] == [
        "Intended uses",
        "Factors affecting performance",
        "Limitations",
        "Ethical considerations",
        "Owner",
    ]
    assert card["status"] == "draft"


def test_filling_submitting_and_approving_a_card_is_audited_once_per_change(company):
    version = make_version(company.a)
    classify(company.a, version, "high")
    engineer = client_for(company.amir)

    assert engineer.post(CARD + "submit/").status_code == 400  # incomplete
    filled = engineer.patch(CARD, FILL, format="json").json()
    assert filled["completeness"] == 100 and filled["missing"] == []
    assert engineer.post(CARD + "submit/").json()["status"] == "in_review"
    assert engineer.post(CARD + "review/", {"approve": True}, format="json").status_code == 403
    approved = client_for(company.grace).post(CARD + "review/", {"approve": True}, format="json")
    assert approved.json()["status"] == "approved" and approved.json()["approved_by"] == "grace"

    edited = engineer.patch(
        CARD, {"limitations": "Not for business or mortgage loans."}, format="json"
    )
    assert edited.json()["status"] == "draft"
    with tenant_scope(company.a):
        actions = list(
            AuditEvent.objects.filter(object_type="model_card")
            .order_by("sequence")
            .values_list("action", flat=True)
        )
    assert actions == [
        "model_card.created",
        "model_card.updated",
        "model_card.submitted",
        "model_card.approved",
        "model_card.updated",
    ]


def test_a_card_renders_as_markdown_and_pdf(company):
    make_version(company.a)
    client_for(company.amir).patch(CARD, FILL, format="json")

    markdown = client_for(company.ava).get(CARD + "markdown/")
    pdf = client_for(company.ava).get(CARD + "pdf/")

    assert markdown["Content-Type"].startswith("text/markdown")
    text = markdown.content.decode()
    assert "credit-scorer v1" in text and "Not for business loans." in text
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_another_tenant_sees_none_of_a_cards(company):
    make_version(company.a)
    for url in (CARD, CARD + "markdown/", CARD + "pdf/", EVIDENCE):
        assert client_for(company.bob).get(url).json() == NOT_FOUND_BODY
    assert client_for(company.bob).patch(CARD, FILL, format="json").json() == NOT_FOUND_BODY


def test_the_evidence_pack_holds_everything_a_regulator_asks_for(company, high_risk_version):
    deployment = request(company.a, high_risk_version, company.amir)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    for lead in (company.grace, company.gus):
        client_for(lead).post(
            f"/api/v1/approvals/{approval.pk}/decisions/", {"verdict": "approve"}, format="json"
        )
    client_for(company.amir).post(
        "/api/v1/tenants/acme-retail/incidents/",
        {"title": "Score drift on new applicants", "severity": "sev3", "model": "credit-scorer"},
        format="json",
    )
    assert client_for(company.amir).get(EVIDENCE).status_code == 403  # engineers do not export

    response = client_for(company.grace).get(EVIDENCE)

    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {
        "README.md",
        "manifest.json",
        "1-risk-management/risk_classification.json",
        "1-risk-management/policies/default-v1.yaml",
        "2-data-governance/lineage.json",
        "3-record-keeping/audit_events.json",
        "3-record-keeping/chain_verification.json",
        "4-transparency/model_card.md",
        "4-transparency/model_card.pdf",
        "4-transparency/model_card.json",
        "5-human-oversight/approvals.json",
        "6-accuracy-robustness/evaluation.json",
        "6-accuracy-robustness/incidents.json",
        "6-accuracy-robustness/drift_history.json",
    } <= names

    def read(name):
        return json.loads(archive.read(name))

    classification = read("1-risk-management/risk_classification.json")["current"]
    assert (classification["tier"], classification["set_by"]) == ("high", "unit")
    approvals = read("5-human-oversight/approvals.json")
    assert approvals[0]["state"] == "approved"
    assert approvals[0]["policy"]["name"] == "default"
    assert [d["reviewer"]["username"] for d in approvals[0]["decisions"]] == ["grace", "gus"]
    assert approvals[0]["decisions"][0]["reviewer"]["email"] == "grace@example.com"
    lineage = read("2-data-governance/lineage.json")
    assert lineage["datasets"][0]["digest"] == "d1g35t" and lineage["run_id"] == "a" * 32
    actions = {e["action"] for e in read("3-record-keeping/audit_events.json")}
    assert {
        "model.risk_classified",
        "model_card.updated",
        "deployment.requested",
        "approval.requested",
        "approval.decided",
        "deployment.approved",
        "incident.opened",
    } <= actions
    assert read("3-record-keeping/chain_verification.json")["ok"] is True
    assert (
        read("6-accuracy-robustness/incidents.json")[0]["title"] == "Score drift on new applicants"
    )
    assert read("6-accuracy-robustness/drift_history.json")["deployments"][0]["id"] == deployment.pk
    assert archive.read("4-transparency/model_card.pdf").startswith(b"%PDF")
    readme = archive.read("README.md").decode()
    for heading in (
        "Risk management",
        "Data and data governance",
        "Record keeping",
        "Transparency",
        "Human oversight",
        "Accuracy, robustness",
    ):
        assert heading in readme
    manifest = read("manifest.json")
    import hashlib

    for name, digest in manifest["files"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest


@pytest.mark.parametrize(
    "name", ["=2+5+cmd|' -C calc'!A0", 'Q4 "sales"\r\nSet-Cookie: x=1', "ümlaut\\..\\model"]
)
def test_a_hostile_model_name_downloads_under_a_safe_file_name(company, name):
    make_version(company.a, name=name)
    base = f"/api/v1/tenants/acme-retail/models/{quote(name, safe='')}/versions/1/"

    for path, who in (
        ("card/markdown/", company.ava),
        ("card/pdf/", company.ava),
        ("evidence/", company.grace),
    ):
        response = client_for(who).get(base + path)
        assert response.status_code == 200, (path, response.content[:200])
        header = response["Content-Disposition"]
        fallback = re.search(r'filename="([^"]*)"', header).group(1)
        assert re.fullmatch(r"[A-Za-z0-9._-]+", fallback), header
        assert not fallback.startswith(".")
        full = unquote(re.search(r"filename\*=UTF-8''(\S+)$", header).group(1))
        assert not set(full) & set('/\\"\r\n'), full
        assert full.endswith(("-v1-card.md", "-v1-card.pdf", "-v1.zip"))


def test_a_cards_author_cannot_approve_it(company):
    classify(company.a, make_version(company.a), "high")
    add_member(company.a, company.grace, TenantRole.ENGINEER)  # a lead who also builds models
    grace = client_for(company.grace)
    grace.patch(CARD, FILL, format="json")
    client_for(company.amir).post(CARD + "submit/")

    refused = grace.post(CARD + "review/", {"approve": True}, format="json")

    assert refused.status_code == 403
    assert refused.json()["detail"] == "You edited this card last; someone else must approve it."
    card = client_for(company.gus).get(CARD).json()
    assert card["status"] == "in_review"
    assert card["last_edited_by"] == "grace" and card["submitted_by"] == "amir"
    approved = client_for(company.gus).post(CARD + "review/", {"approve": True}, format="json")
    assert approved.json()["status"] == "approved"


def test_the_lead_who_submitted_a_card_cannot_approve_it_but_may_return_it(company):
    classify(company.a, make_version(company.a), "high")
    add_member(company.a, company.grace, TenantRole.ENGINEER)
    client_for(company.amir).patch(CARD, FILL, format="json")
    grace = client_for(company.grace)
    grace.post(CARD + "submit/")

    refused = grace.post(CARD + "review/", {"approve": True}, format="json")
    returned = grace.post(CARD + "review/", {"approve": False, "comment": "Add the owner's team."})

    assert refused.status_code == 403
    assert (
        refused.json()["detail"] == "You sent this card for review; someone else must approve it."
    )
    assert returned.json()["status"] == "draft"
