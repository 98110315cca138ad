"""Incidents: opened, noted, resolved with the time it took; tenant B sees none of A's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from governance.models import AuditEvent, Incident
from governance.services.incidents import incident_open
from governance.tests.builders import classify, make_version, request
from portal.core.api.errors import NOT_FOUND_BODY
from portal.core.audit import Actor
from tenants.scoping import tenant_scope
from tests.builders import client_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/tenants/acme-retail/incidents/"


def test_an_incident_is_opened_noted_and_resolved_with_its_time_to_resolve(company):
    make_version(company.a)
    engineer = client_for(company.amir)
    opened = engineer.post(
        URL,
        {"title": "Predictions all zero", "severity": "sev2", "model": "credit-scorer"},
        format="json",
    )
    assert opened.status_code == 201, opened.json()
    incident_id = opened.json()["id"]
    assert (
        engineer.post(
            f"{URL}{incident_id}/entries/", {"text": "Rolled back."}, format="json"
        ).status_code
        == 201
    )
    with tenant_scope(company.a):
        Incident.objects.filter(pk=incident_id).update(
            opened_at=Incident.objects.get().opened_at - timedelta(hours=2)
        )

    refused = engineer.patch(f"{URL}{incident_id}/", {"status": "resolved"}, format="json")
    assert refused.status_code == 400 and "resolution" in refused.json()["detail"]
    resolved = engineer.patch(
        f"{URL}{incident_id}/",
        {"status": "resolved", "resolution": "Bad feature join fixed."},
        format="json",
    ).json()

    assert resolved["status"] == "resolved"
    assert 7200 <= resolved["time_to_resolve_seconds"] < 7300
    assert [e["kind"] for e in resolved["entries"]] == ["status", "note", "status"]
    with tenant_scope(company.a):
        actions = list(
            AuditEvent.objects.filter(object_type="incident").values_list("action", flat=True)
        )
    assert actions == ["incident.opened", "incident.resolved"]


def test_the_system_opens_incidents_linked_to_a_deployment(company):
    version = make_version(company.a)
    classify(company.a, version, "minimal")
    deployment = request(company.a, version, company.amir, environment="staging")
    with tenant_scope(company.a):
        incident = incident_open(
            actor=Actor.system("rollout"),
            tenant_id=company.a.pk,
            title="Rollout failed",
            severity="sev2",
            source="rollout",
            deployment_id=deployment.pk,
        )
    body = client_for(company.ava).get(f"{URL}{incident.pk}/").json()
    assert body["source"] == "rollout" and body["deployment"] == deployment.pk
    assert body["model"] == "credit-scorer"


def test_viewers_read_incidents_but_do_not_open_them(company):
    assert (
        client_for(company.ava)
        .post(URL, {"title": "x", "severity": "sev4"}, format="json")
        .status_code
        == 403
    )
    assert (
        client_for(company.grace)
        .post(URL, {"title": "Audit finding", "severity": "sev4"}, format="json")
        .status_code
        == 201
    )


def test_tenant_b_sees_none_of_a_incidents(company):
    opened = (
        client_for(company.amir).post(URL, {"title": "x", "severity": "sev4"}, format="json").json()
    )
    assert client_for(company.bob).get(URL).json() == NOT_FOUND_BODY
    assert client_for(company.bob).get(f"{URL}{opened['id']}/").json() == NOT_FOUND_BODY
    assert (
        client_for(company.ben).get("/api/v1/tenants/bravo-marketing/incidents/").json()["results"]
        == []
    )
    assert (
        client_for(company.ben)
        .get(f"/api/v1/tenants/bravo-marketing/incidents/{opened['id']}/")
        .json()
        == NOT_FOUND_BODY
    )


def test_the_api_filters_incidents_as_their_page_does_and_names_a_filter_it_cannot_read(company):
    with tenant_scope(company.a):
        for title, severity in (("Predictions all zero", "sev1"), ("Slow answers", "sev3")):
            incident_open(
                actor=Actor.system("drift"), tenant_id=company.a.pk, title=title, severity=severity
            )
    viewer = client_for(company.ava)

    def titles(**given: str) -> list[str]:
        return [incident["title"] for incident in viewer.get(URL, given).json()["results"]]

    assert titles(severity="sev3") == ["Slow answers"]
    assert titles(q="ZERO") == ["Predictions all zero"]
    assert titles(status="open", severity="sev1") == ["Predictions all zero"]
    refused = viewer.get(URL, {"status": "lost"})
    assert refused.status_code == 400 and refused.json()["detail"].startswith("status: ")
