"""Approval requests nobody decides are chased: the undecided reviewers are reminded after
APPROVAL_REMINDER_DAYS, every governance lead hears after APPROVAL_ESCALATION_DAYS, once each,
and an absent lead's reminders go to the delegate they named for the period."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.models import ApprovalRequest, AuditEvent
from governance.services.reminders import approvals_chase
from governance.tasks import remind_approvals
from governance.tests.builders import approved_card, classify, decide, make_version, request
from tenants.models import PlatformRole
from tenants.scoping import tenant_scope
from tenants.services import user_set_platform_role
from tests.builders import TEST_ACTOR, client_for, make_user, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def chase(eager_celery, mailoutbox, django_capture_on_commit_callbacks):
    """Run the chase of tenant A's requests as if it were ``now``; returns who was emailed."""

    def run(company, now):
        mailoutbox.clear()
        with django_capture_on_commit_callbacks(execute=True), tenant_scope(company.a):
            done = approvals_chase(now=now)
        return done, sorted(address for mail in mailoutbox for address in mail.to)

    return run


def pending_request(company, name: str = "credit-scorer") -> ApprovalRequest:
    """Amir asks to put a high-risk model in production; two governance leads must approve."""
    version = make_version(company.a, name)
    classify(company.a, version, "high")
    approved_card(company.a, version)
    deployment = request(company.a, version, company.amir)
    with tenant_scope(company.a):
        return deployment.approvals.get()


def chase_events(company, approval, action):
    with tenant_scope(company.a):
        return list(
            AuditEvent.objects.filter(
                action=action, object_type="approval", object_id=str(approval.pk)
            ).values_list("after", flat=True)
        )


def test_a_reminder_goes_to_the_undecided_reviewers_after_the_reminder_days_and_not_twice(
    company, chase, mailoutbox
):
    approval = pending_request(company)
    decide(company.grace, approval.pk)  # one of the two leads has approved
    created = approval.created_at

    assert chase(company, created + timedelta(days=1, hours=23)) == (
        {"reminded": 0, "escalated": 0},
        [],
    )
    assert chase(company, created + timedelta(days=2, minutes=1)) == (
        {"reminded": 1, "escalated": 0},
        ["gus@example.com"],
    )
    assert (
        mailoutbox[0].subject == "Reminder: credit-scorer v1 to production waits for your decision"
    )
    assert "needs 1 governance lead" in mailoutbox[0].body
    assert chase(company, created + timedelta(days=3)) == ({"reminded": 0, "escalated": 0}, [])

    assert chase_events(company, approval, "approval.reminded") == [
        {"recipients": ["gus"], "standing_in_for": {}}
    ]
    shown = client_for(company.grace).get(f"/api/v1/approvals/{approval.pk}/").json()
    assert shown["reminded_at"] and shown["escalated_at"] is None
    page = signed_in(company.grace).get(f"/governance/approvals/{approval.pk}/").content.decode()
    assert "reviewers reminded" in page


def test_escalation_reaches_every_governance_lead_after_the_escalation_days_once(
    company, chase, mailoutbox
):
    gail = make_user("gail", platform_role=PlatformRole.GOVERNANCE_LEAD)
    approval = pending_request(company)
    decide(company.grace, approval.pk)
    created = approval.created_at
    chase(company, created + timedelta(days=2, minutes=1))  # the reminder

    assert chase(company, created + timedelta(days=4, hours=23))[0]["escalated"] == 0
    done, emailed = chase(company, created + timedelta(days=5, minutes=1))

    assert done == {"reminded": 0, "escalated": 1}
    assert emailed == ["gail@example.com", "grace@example.com", "gus@example.com"]
    assert mailoutbox[0].subject.startswith("Escalated: credit-scorer v1 to production has waited")
    assert chase(company, created + timedelta(days=6)) == ({"reminded": 0, "escalated": 0}, [])
    assert chase_events(company, approval, "approval.escalated") == [
        {"recipients": ["gail", "grace", "gus"], "standing_in_for": {}}
    ]
    assert gail.email == "gail@example.com"


def test_a_request_escalated_before_anyone_reminded_it_is_not_reminded_afterwards(company, chase):
    approval = pending_request(company)
    created = approval.created_at

    assert chase(company, created + timedelta(days=6))[0] == {"reminded": 0, "escalated": 1}
    assert chase(company, created + timedelta(days=7))[0] == {"reminded": 0, "escalated": 0}


def test_a_request_that_needs_a_unit_owner_reminds_the_units_owners_but_not_the_requester(
    company, chase
):
    version = make_version(company.a, "churn-predictor")
    classify(company.a, version, "minimal")
    deployment = request(company.a, version, company.amir)
    with tenant_scope(company.a):
        approval = deployment.approvals.get()
    assert approval.requirements == {"tenant_owner": 1}

    done, emailed = chase(company, approval.created_at + timedelta(days=2, minutes=1))

    assert done == {"reminded": 1, "escalated": 0}
    assert emailed == ["alice@example.com"]


def test_decided_requests_are_not_chased(company, chase):
    approval = pending_request(company)
    decide(company.grace, approval.pk, "reject", "No fairness analysis.")

    assert chase(company, approval.created_at + timedelta(days=6)) == (
        {"reminded": 0, "escalated": 0},
        [],
    )


def test_a_delegate_receives_the_absent_leads_reminders_during_the_period_only(
    company, chase, mailoutbox
):
    now = timezone.now()
    before = pending_request(company, "fraud-detector")
    during = pending_request(company, "credit-scorer")
    after = pending_request(company, "churn-predictor")
    with tenant_scope(company.a):
        ApprovalRequest.objects.filter(pk=before.pk).update(created_at=now - timedelta(days=2))
        ApprovalRequest.objects.filter(pk=after.pk).update(created_at=now + timedelta(days=2))
    named = client_for(company.grace).post(
        "/api/v1/delegations/",
        {
            "delegate": "gus",
            "starts_at": (now + timedelta(days=1)).isoformat(),
            "ends_at": (now + timedelta(days=3)).isoformat(),
            "note": "On leave.",
        },
        format="json",
    )
    assert named.status_code == 201, named.content

    assert chase(company, now + timedelta(hours=1)) == (  # before the period
        {"reminded": 1, "escalated": 0},
        ["grace@example.com", "gus@example.com"],
    )
    assert chase(company, now + timedelta(days=2, hours=1)) == (  # during it
        {"reminded": 1, "escalated": 0},
        ["gus@example.com"],
    )
    assert "gus receives this for grace, who is away." in mailoutbox[0].body
    assert chase_events(company, during, "approval.reminded") == [
        {"recipients": ["gus"], "standing_in_for": {"gus": ["grace"]}}
    ]
    decide(company.gus, before.pk, "reject", "Superseded by the next version.")
    assert chase(company, now + timedelta(days=4, hours=1)) == (  # after it
        {"reminded": 1, "escalated": 0},
        ["grace@example.com", "gus@example.com"],
    )
    assert chase_events(company, after, "approval.reminded") == [
        {"recipients": ["grace", "gus"], "standing_in_for": {}}
    ]


def test_an_ended_delegation_sends_the_reminders_back_to_the_lead(company, chase):
    approval = pending_request(company)
    named = (
        client_for(company.grace)
        .post(
            "/api/v1/delegations/",
            {"delegate": "gus", "ends_at": (timezone.now() + timedelta(days=10)).isoformat()},
            format="json",
        )
        .json()
    )
    client_for(company.grace).post(f"/api/v1/delegations/{named['id']}/end/")

    emailed = chase(company, approval.created_at + timedelta(days=2, minutes=1))[1]

    assert emailed == ["grace@example.com", "gus@example.com"]


def test_the_periodic_task_chases_every_tenants_requests(
    company, eager_celery, mailoutbox, django_capture_on_commit_callbacks
):
    approval = pending_request(company)
    with tenant_scope(company.a):
        ApprovalRequest.objects.filter(pk=approval.pk).update(
            created_at=timezone.now() - timedelta(days=3)
        )

    with django_capture_on_commit_callbacks(execute=True):
        assert remind_approvals() == {"reminded": 1, "escalated": 0}
    assert remind_approvals() == {"reminded": 0, "escalated": 0}
    assert sorted(a for m in mailoutbox for a in m.to) == ["grace@example.com", "gus@example.com"]


def test_a_delegate_who_is_away_too_passes_the_reminders_on_to_their_own_delegate(
    company, chase, mailoutbox
):
    make_user("gail", platform_role=PlatformRole.GOVERNANCE_LEAD)
    approval = pending_request(company)
    until = (timezone.now() + timedelta(days=10)).isoformat()
    for lead, delegate in ((company.grace, "gus"), (company.gus, "gail")):
        named = client_for(lead).post(
            "/api/v1/delegations/", {"delegate": delegate, "ends_at": until}, format="json"
        )
        assert named.status_code == 201

    emailed = chase(company, approval.created_at + timedelta(days=2, minutes=1))[1]

    assert emailed == ["gail@example.com"]
    assert "gail receives this for grace and gus, who are away." in mailoutbox[0].body
    assert chase_events(company, approval, "approval.reminded") == [
        {"recipients": ["gail"], "standing_in_for": {"gail": ["grace", "gus"]}}
    ]


def test_a_lead_whose_delegate_is_no_longer_a_governance_lead_is_reminded_themselves(
    company, chase
):
    approval = pending_request(company)
    client_for(company.grace).post(
        "/api/v1/delegations/",
        {"delegate": "gus", "ends_at": (timezone.now() + timedelta(days=10)).isoformat()},
        format="json",
    )
    make_user("gail", platform_role=PlatformRole.GOVERNANCE_LEAD)
    user_set_platform_role(actor=TEST_ACTOR, user=company.gus, platform_role=PlatformRole.FINANCE)

    emailed = chase(company, approval.created_at + timedelta(days=2, minutes=1))[1]

    assert emailed == ["gail@example.com", "grace@example.com"]
