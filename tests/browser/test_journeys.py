"""The people's journeys through the portal in a real browser, each starting at the login page.

An engineer takes a model from an MLflow run to a live production deployment that two governance
leads approved, calls it with the page's example and sees its drift badge; finance finalizes a
statement and downloads its FOCUS export; a viewer walks the unit's pages and finds nothing to do.
"""

from __future__ import annotations

import csv
import json
import re
from urllib.parse import urljoin, urlsplit

import pytest

from chargeback.exports import FOCUS_COLUMNS
from chargeback.models import Statement
from chargeback.tests.builders import closed_month
from governance.services.incidents import incident_open
from governance.tests.builders import classify, make_version, request
from portal.catalog.models import ModelVersion
from portal.deployments import rollout
from portal.deployments.gateway.recorder import recorder
from portal.deployments.models import Deployment
from portal.deployments.tests.serving import credit_features, serving_runtime, wait_for
from portal.monitoring import services as monitoring
from portal.monitoring.models import BaselineSource, CapturedRequest, Monitor
from tenants.scoping import dangerously_across_tenants, tenant_scope
from tests.builders import TEST_ACTOR, make_token, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORT = {"width": 1280, "height": 900}
MODEL = "portal-credit-scorer"  # unit A names its models with its MLflow prefix, "portal-"
ENDPOINT = f"{MODEL}-production"
HIGH_RISK_ANSWERS = {
    "Does the model do any of the practices the EU AI Act prohibits?": "No",
    "In that area, does the model only perform a narrow procedural task": "No",
    "Does the model profile people": "Yes",
    "Does the model interact directly with people": "No",
    "Does the model generate or alter text": "No",
}
CARD = {
    "Purpose": "Scores retail credit applications by their probability of default.",
    "Intended uses": "Ranking applications for a credit officer, who decides.",
    "Factors affecting performance": "Income, debt ratio and age of the applicant.",
    "Risk explanation": "Credit scoring is an Annex III area and profiles applicants.",
    "Training data": "300 applications of the credit-train dataset, a fifth held out.",
    "Limitations": "Not validated for business loans or applicants under 18.",
    "Ethical considerations": "The demographic parity gap between age groups is logged on every run.",
    "Owner": "Amir, Acme Retail data science",
}


def a_closed_month(company) -> None:
    """October's usage of both units, metered and closed into draft statements."""
    with dangerously_across_tenants("test data of both units"):
        closed_month(company)


def unit_tab(page, name: str) -> None:
    """Open one of the unit's tabs, through the unit's overview on pages that have none."""
    tabs = page.get_by_role("navigation", name="Acme Retail")
    if not tabs.count():
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Acme Retail").click()
        page.get_by_role("heading", name="Acme Retail", exact=True).wait_for()
    tabs.get_by_role("link", name=name).click()


def csrf_token(page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")


def approve_as(browser, live_server, username: str) -> str:
    """A governance lead approves the request in a browser of their own; returns the message."""
    context = browser.new_context(viewport=VIEWPORT)
    lead = context.new_page()
    lead.set_default_timeout(30000)
    try:
        sign_in(lead, live_server, username)
        lead.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
        lead.get_by_role("heading", name="Approval requests").wait_for()
        lead.get_by_role("link", name=f"{MODEL} v1").click()
        lead.get_by_role("heading", name="Your decision").wait_for()
        lead.get_by_label("Comment").fill(f"Card, metrics and fairness checked by {username}.")
        lead.get_by_role("button", name="Approve", exact=True).click()
        return lead.get_by_role("status").inner_text()
    finally:
        context.close()


def approve_card_as(browser, live_server, username: str, card_url: str) -> str:
    """A governance lead approves the model card in a browser of their own; returns the message."""
    context = browser.new_context(viewport=VIEWPORT)
    lead = context.new_page()
    lead.set_default_timeout(30000)
    try:
        sign_in(lead, live_server, username)
        lead.goto(card_url)
        lead.get_by_role("button", name="Approve the card").click()
        return lead.get_by_role("status").inner_text()
    finally:
        context.close()


def predict_token_from_the_owner(browser, live_server) -> str:
    """The unit's owner creates a predict token on the token page (engineers cannot)."""
    context = browser.new_context(viewport=VIEWPORT)
    owner = context.new_page()
    owner.set_default_timeout(30000)
    try:
        sign_in(owner, live_server, "alice")
        owner.get_by_role("link", name="New token").click()
        owner.get_by_label("Name").fill("Credit scoring client")
        owner.get_by_label("Read").uncheck()
        owner.get_by_label("Predict").check()
        owner.get_by_role("button", name="Create token").click()
        return owner.locator("#token-secret").inner_text()
    finally:
        context.close()


def deployment_of(company) -> Deployment:
    with tenant_scope(company.a):
        return Deployment.objects.select_related("model_version").get(name=ENDPOINT)


def example_call(page) -> tuple[str, dict]:
    """The gateway URL and the JSON body of the curl example in the page's "Call it" region."""
    example = page.get_by_role("region", name="Call it").locator("pre").inner_text()
    url = re.search(r'curl -X POST "([^"]+)"', example)
    body = re.search(r"-d '(.+)'", example, re.DOTALL)
    assert url and body, example
    return url.group(1), json.loads(body.group(1))


@pytest.mark.usefixtures("eager_celery")
def test_an_engineer_takes_a_runs_model_to_production_calls_it_and_sees_its_drift(
    page, browser, live_server, company, mlflow_server, settings, tmp_path
):
    settings.CAPTURE_STORE_URI = str(tmp_path / "capture")
    page.set_default_timeout(30000)
    # The pipeline's experiment, 'portal-tests', is the unit's by its MLflow name prefix.
    company.a.mlflow_name_prefix = "portal-"
    company.a.save()

    # The engineer registers the model the credit pipeline logged to MLflow.
    sign_in(page, live_server, "amir")
    page.get_by_role("link", name="Acme Retail").first.click()
    unit_tab(page, "Models")
    registered = page.request.post(
        f"{live_server.url}/api/v1/tenants/{company.a.slug}/models/",
        data={"name": MODEL, "logged_model_id": mlflow_server.model_id},
        headers={"X-CSRFToken": csrf_token(page)},
    )
    assert registered.status == 202, registered.text()
    job = page.request.get(urljoin(live_server.url, registered.json()["job"]["url"])).json()
    assert (job["status"], job["model"], job["version"]) == ("succeeded", MODEL, 1), job
    page.reload()
    page.get_by_role("link", name=MODEL, exact=True).click()
    page.get_by_role("heading", name=MODEL, exact=True).wait_for()

    # It answers the EU AI Act questionnaire: credit scoring that profiles people is high risk.
    page.get_by_role("link", name="Risk classification").click()
    page.get_by_label("Is the model used in one of these areas?").select_option(
        "essential_services"
    )
    for question, answer in HIGH_RISK_ANSWERS.items():
        page.get_by_role("group", name=re.compile(re.escape(question))).get_by_label(
            answer, exact=True
        ).check()
    page.get_by_role("button", name="Classify").click()
    assert "classified high risk" in page.get_by_role("status").inner_text()

    # The version's page shows the run's metrics; its model card is written in full.
    page.get_by_role("link", name=f"← {MODEL}").click()
    page.get_by_role("link", name="v1", exact=True).click()
    assert mlflow_server.run_id in page.get_by_role("region", name="Artifact").inner_text()
    metrics = page.get_by_role("region", name="Metrics").inner_text()
    assert "val_accuracy" in metrics and "fairness_demographic_parity_difference" in metrics
    page.get_by_role("link", name="Model card").click()
    for label, text in CARD.items():
        page.get_by_label(f"{label}:", exact=True).fill(text)
    page.get_by_role("button", name="Save the card").click()
    assert "Model card saved." in page.get_by_role("status").inner_text()
    assert page.get_by_role("heading", name="Completeness: 100%").is_visible()

    # The complete card goes to governance, and a governance lead approves it.
    page.get_by_role("button", name="Submit for review").click()
    assert "sent to governance for review" in page.get_by_role("status").inner_text()
    assert "The card is approved." in approve_card_as(browser, live_server, "grace", page.url)

    # It requests the production deployment; the policy wants two governance leads.
    unit_tab(page, "Deployments")
    page.get_by_role("link", name="Request a deployment").click()
    page.get_by_label("Model:", exact=True).fill(MODEL)
    page.get_by_label("Version:", exact=True).fill("1")
    page.get_by_label("Environment").select_option("production")
    page.get_by_label("Instance type").fill("cpu.small")
    page.get_by_label("Replicas").fill("1")
    page.get_by_role("button", name="Request deployment").click()
    assert "waits for approval by" in page.get_by_role("status").inner_text()
    heading = page.get_by_role("heading", level=1).inner_text()
    assert ENDPOINT in heading and "Pending approval" in heading
    deployment_page = page.url

    with serving_runtime():
        # Two governance leads approve it, each in a browser of their own; the rollout starts.
        assert "Your approval is recorded." in approve_as(browser, live_server, "grace")
        assert "The request is approved" in approve_as(browser, live_server, "gus")

        def live():
            deployment = deployment_of(company)
            assert deployment.state not in ("failed", "cancelled"), deployment.serving
            return deployment.state == "live"

        wait_for(live, timeout=120, what="the production deployment to go live")

        # The engineer sees it live and calls it with the page's example.
        page.goto(deployment_page)
        assert "Live" in page.get_by_role("heading", level=1).inner_text()
        url, body = example_call(page)
        assert urlsplit(url).path == f"/serve/{company.a.slug}/{ENDPOINT}/invocations"
        example = body["dataframe_split"]
        assert example["columns"] == ["income", "debt_ratio", "age"]
        applicant = credit_features(1, seed=5).iloc[0]
        example["data"] = [[float(applicant[column]) for column in example["columns"]]]
        token = predict_token_from_the_owner(browser, live_server)
        gateway = f"{live_server.url}{urlsplit(url).path}"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        answer = page.request.post(gateway, data=json.dumps(body), headers=headers)
        assert answer.status == 200, answer.text()
        predictions = answer.json()["predictions"]
        assert len(predictions) == 1 and predictions[0] in (0, 1)

        # A day's applications go through the gateway too and are captured.
        batch = credit_features(200, seed=21)
        more = page.request.post(
            gateway,
            data=json.dumps({"dataframe_split": batch.to_dict(orient="split", index=False)}),
            headers=headers,
        )
        assert more.status == 200, more.text()
        assert len(more.json()["predictions"]) == 200
        with tenant_scope(company.a):
            recorder().flush()

    deployment = deployment_of(company)
    with tenant_scope(company.a):
        assert CapturedRequest.objects.filter(deployment_id=deployment.pk).count() == 2
        monitoring.baseline_from_frame(
            version=ModelVersion.objects.get(pk=deployment.model_version_id),
            frame=credit_features(300, seed=7),
            source=BaselineSource.UPLOAD,
            detail="the training frame of the credit pipeline",
            actor=TEST_ACTOR,
        )
        # The request asked for drift monitoring, so the endpoint got its monitor when it went live.
        monitor = Monitor.objects.get(endpoint=ENDPOINT)
        queued = monitoring.drift_run_request(deployment=deployment, monitor=monitor, trigger="api")
        run = monitoring.drift_run_execute(run_id=queued.pk)
    assert run.status == "succeeded" and run.current_rows == 201, run.reason
    assert run.drift_status == "ok", (run.reason, run.drifted_columns)

    page.reload()
    traffic = page.get_by_role("region", name="Traffic, last 60 minutes").inner_text()
    assert re.search(r"Requests\s+2 ", traffic), traffic
    unit_tab(page, "Deployments")
    page.get_by_role("heading", name="Acme Retail: deployments").wait_for()
    row = page.get_by_role("row").filter(has_text=ENDPOINT)
    assert "Live" in row.inner_text()
    assert row.get_by_role("link", name="Drift: no drift").is_visible()


def test_finance_finalizes_a_statement_and_downloads_its_focus_export(page, live_server, company):
    a_closed_month(company)
    with tenant_scope(company.a):
        statement = Statement.objects.get()

    sign_in(page, live_server, "fiona")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Finance").click()
    page.get_by_role("heading", name="Statements for review").wait_for()
    page.get_by_role("row", name="Acme Retail 2026-10").get_by_role("link", name="2026-10").click()
    page.get_by_role("heading", name="Acme Retail: statement for 2026-10").wait_for()

    page.get_by_role("group", name="Finance actions").get_by_role("button", name="Finalize").click()
    message = page.get_by_role("status").inner_text()
    with tenant_scope(company.a):
        statement.refresh_from_db()
    assert statement.state == "finalized" and statement.number
    assert statement.number in message
    assert page.locator("#statement-number").inner_text() == statement.number

    with page.expect_download() as download:
        page.get_by_role("link", name="FOCUS 1.2").click()
    saved = download.value
    assert saved.suggested_filename.endswith("-focus.csv")
    with open(saved.path(), newline="", encoding="utf-8") as exported:
        rows = list(csv.reader(exported))
    assert tuple(rows[0]) == FOCUS_COLUMNS
    assert len(rows) > 1 and all(
        row[FOCUS_COLUMNS.index("InvoiceId")] == statement.number for row in rows[1:]
    )


ACTION_LINKS = re.compile(
    r"Request a deployment|Request the first one|Roll back|New token|Register|Sync now",
    re.IGNORECASE,
)
ALLOWED_BUTTONS = {"Sign out", "Search", "Filter", "Show"}


def assert_nothing_to_do(page) -> None:
    buttons = {
        (b.text_content() or "").strip()
        for b in page.get_by_role("button", include_hidden=True).all()
    }
    assert buttons <= ALLOWED_BUTTONS, f"{page.url}: {buttons - ALLOWED_BUTTONS}"
    assert page.get_by_role("link", name=ACTION_LINKS).count() == 0, page.url
    assert page.get_by_role("textbox", name=re.compile("comment|reason", re.I)).count() == 0
    assert page.get_by_role("radio").count() == 0, page.url
    for word in ("Dispute", "Void…", "Settle…"):
        assert page.get_by_text(word, exact=True).count() == 0, (page.url, word)


def live_revision(tenant, version, user) -> Deployment:
    """A staging revision rolled out and marked ready the way the serving runtime would."""
    deployment = request(tenant, version, user, environment="staging")
    rollout.rollout_start(tenant_id=tenant.pk, deployment_id=deployment.pk)
    with tenant_scope(tenant):
        deployment = Deployment.objects.get(pk=deployment.pk)
        deployment.serving = {**deployment.serving, "state": "ready", "url": "http://127.0.0.1:9"}
        deployment.save(update_fields=["serving"])
    rollout.rollout_advance(tenant_id=tenant.pk, deployment_id=deployment.pk)
    return deployment


def test_a_viewer_walks_the_units_pages_and_sees_no_action_buttons(page, live_server, company):
    a_closed_month(company)
    first = make_version(company.a, "churn-model", 1)
    classify(company.a, first, "minimal")
    second = make_version(company.a, "churn-model", 2)
    live_revision(company.a, first, company.amir)
    live_revision(company.a, second, company.amir)
    make_token(company.a, ["read"], name="CI pipeline")
    with tenant_scope(company.a):
        incident_open(
            actor=TEST_ACTOR,
            tenant_id=company.a.pk,
            title="Scores drift after the pricing change",
            severity="sev3",
            model=first.model,
        )

    sign_in(page, live_server, "ava")
    assert_nothing_to_do(page)
    page.get_by_role("link", name="Acme Retail").first.click()
    page.get_by_role("heading", name="Acme Retail", exact=True).wait_for()
    assert page.get_by_role("row").filter(has_text="CI pipeline").count() == 1
    assert_nothing_to_do(page)

    unit_tab(page, "Models")
    page.get_by_role("heading", name="Acme Retail: models").wait_for()
    assert_nothing_to_do(page)
    page.get_by_role("link", name="churn-model", exact=True).click()
    page.get_by_role("heading", name="churn-model", exact=True).wait_for()
    assert_nothing_to_do(page)

    unit_tab(page, "Deployments")
    page.get_by_role("heading", name="Acme Retail: deployments").wait_for()
    assert_nothing_to_do(page)
    page.get_by_role("link", name="churn-model-staging revision 2").click()
    page.get_by_role("heading", name=re.compile("^churn-model-staging revision 2")).wait_for()
    assert "Live" in page.get_by_role("heading", level=1).inner_text()
    assert "is still warm" not in page.content()
    assert_nothing_to_do(page)

    unit_tab(page, "Costs")
    page.get_by_role("heading", name="Acme Retail: costs").wait_for()
    assert_nothing_to_do(page)
    page.get_by_role("region", name="Statements").get_by_role("link", name="2026-10").click()
    page.get_by_role("heading", name=re.compile("Acme Retail: statement")).wait_for()
    assert page.get_by_role("region", name="Lines").get_by_role("row").count() > 2
    assert_nothing_to_do(page)

    unit_tab(page, "Incidents")
    page.get_by_role("heading", name="Acme Retail: incidents").wait_for()
    page.get_by_role("link", name="Scores drift after the pricing change").wait_for()
    assert_nothing_to_do(page)

    unit_tab(page, "Maturity & KPIs")
    page.get_by_role("heading", name="Acme Retail: MLOps maturity").wait_for()
    assert page.get_by_text("The unit's owners answer and save the checklist.").is_visible()
    assert_nothing_to_do(page)
