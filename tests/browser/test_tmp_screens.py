import pytest
from conftest import PASSWORD
from governance.tests.conftest import classify, complete_card, make_version, request
from governance.models import Incident
from tenants.scoping import tenant_scope

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

def test_screens(page, live_server, company):
    version = make_version(company.a)
    classify(company.a, version, "high")
    complete_card(company.a, version)
    request(company.a, version, company.amir, environment="production")
    sign_in(page, live_server, "grace")
    page.get_by_role("link", name="Approvals").click()
    page.screenshot(path="/tmp/s_queue.png", full_page=True)
    page.goto(f"{live_server.url}/governance/policies/")
    page.screenshot(path="/tmp/s_policies.png", full_page=True)
    page.goto(f"{live_server.url}/governance/policies/default/")
    doc = page.get_by_label("Policy document (YAML)").input_value()
    page.get_by_label("Policy document (YAML)").fill(doc.replace("0.75", "0.8").replace('when: tier == "prohibited"', 'when: tier == "prohibited" && replicas < 100'))
    page.get_by_role("button", name="Publish").click()
    page.goto(f"{live_server.url}/governance/policies/default/?try-tenant=acme-retail&try-model=credit-scorer&try-version=1&try-environment=production")
    page.screenshot(path="/tmp/s_policy.png", full_page=True)
    page.goto(f"{live_server.url}/governance/policies/default/")
    page.get_by_label("Policy document (YAML)").fill("name: default\nrules:\n  - id: x\n    when: tier ==== 1\n    outcome: allow\n    reason: r\n")
    page.get_by_role("button", name="Publish").click()
    page.screenshot(path="/tmp/s_policy_err.png", full_page=True)
    page.goto(f"{live_server.url}/governance/audit/")
    page.get_by_role("button", name="Verify now").click()
    page.screenshot(path="/tmp/s_audit.png", full_page=False)
    page.goto(f"{live_server.url}/t/acme-retail/models/credit-scorer/classification/")
    page.screenshot(path="/tmp/s_class.png", full_page=True)
    page.goto(f"{live_server.url}/t/acme-retail/models/credit-scorer/versions/1/card/")
    page.screenshot(path="/tmp/s_card.png", full_page=True)
    page.goto(f"{live_server.url}/t/acme-retail/incidents/")
    page.get_by_label("Title").fill("Scores drift")
    page.get_by_role("button", name="Open incident").click()
    page.get_by_label("Status:").select_option("resolved")
    page.get_by_label("Resolution").fill("Rolled back")
    page.get_by_role("button", name="Update incident").click()
    page.screenshot(path="/tmp/s_incident.png", full_page=True)
    page.goto(f"{live_server.url}/t/acme-retail/incidents/")
    page.screenshot(path="/tmp/s_incidents.png", full_page=True)
