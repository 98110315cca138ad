"""Bounded policy evaluation: caps on request contexts and policy documents, and a time budget."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from django.urls import resolve

from governance import policy_budget
from governance.models import PolicyVersion
from governance.policy import SAMPLE_CONTEXT, content_hash
from governance.policy_budget import Outcome, rules_evaluate
from governance.services.policies import policy_load_from_repo
from governance.tests.builders import classify, make_version, request
from tests.builders import client_for

pytestmark = pytest.mark.django_db

DEFAULT = (Path(__file__).resolve().parents[1] / "policies" / "default.yaml").read_text()
TEN = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
# Ten times ten times ten times every metric, comparing against every metric again: about
# 20 seconds of a web thread on the two-metric sample context, hours on a real run.
NESTED = (
    f'tier == "high" && {TEN}.exists(a, {TEN}.exists(b, {TEN}.exists(c, metrics.exists(m, '
    f'metrics.map(k, k + string(a + b + c)).exists(n, n == m + "!")))))'
)


def nested_policy(name: str = "default") -> str:
    return (
        f"name: {name}\nrules:\n  - id: nested\n    when: '{NESTED}'\n    outcome: deny\n"
        "    reason: Nested.\n"
    )


@pytest.fixture(autouse=True)
def warm():
    """Import the URLconf and start a policy worker, so the timings below measure the requests."""
    resolve("/api/v1/policies/")
    rules_evaluate(["true"], {})


def publish(user, document: str):
    return client_for(user).post("/api/v1/policies/", {"document": document}, format="json")


def dry_run(user, context: dict, **extra):
    return client_for(user).post(
        "/api/v1/policies/dry-run/",
        {"tenant": "acme-retail", "context": context, **extra},
        format="json",
    )


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_dry_run_with_thousands_of_metrics_is_refused_at_once_naming_the_cap(company):
    context = {**SAMPLE_CONTEXT, "metrics": {f"metric_{i}": float(i) for i in range(4000)}}

    response, seconds = timed(lambda: dry_run(company.amir, context))

    assert response.status_code == 400, response.json()
    assert "4000 metrics" in response.json()["detail"]
    assert "at most 256" in response.json()["detail"]
    assert seconds < 1.0


def test_a_dry_run_context_of_megabytes_is_refused_at_once_naming_the_cap(company):
    tags = {f"tag_{i}": "x" * 900 for i in range(2800)}  # about 2.5 MB of JSON
    context = {**SAMPLE_CONTEXT, "tags": tags}

    response, seconds = timed(lambda: dry_run(company.amir, context))

    assert response.status_code == 400, response.json()
    assert "2800 tags" in response.json()["detail"]
    assert seconds < 1.0


def test_a_dry_run_with_an_overlong_text_names_the_field_and_the_limit(company):
    context = {**SAMPLE_CONTEXT, "model": "m" * 5000}

    response = dry_run(company.amir, context)

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "The request context is too large: model has 5000 characters; a policy reads at most 1000."
    )


def test_a_real_request_whose_run_has_too_many_metrics_fails_closed_naming_the_cap(company):
    version = make_version(
        company.a, "wide-model", metrics={f"metric_{i}": 0.5 for i in range(300)}
    )
    classify(company.a, version, "minimal")

    deployment = request(company.a, version, company.amir, environment="staging")

    assert deployment.state == "rejected"
    assert deployment.decision["reasons"][0].startswith(
        "Rule 'prohibited' could not be evaluated on this request (the request context is too "
        "large: metrics has 300 metrics; a policy reads at most 256), so it is treated as applying"
    )


def test_publishing_nested_comprehensions_is_refused_at_once_naming_the_cap(company):
    response, seconds = timed(lambda: publish(company.grace, nested_policy()))

    assert response.status_code == 400, response.json()
    assert "nests comprehensions 5 deep" in response.json()["detail"]
    assert "at most 2" in response.json()["detail"]
    assert seconds < 1.0
    assert not PolicyVersion.objects.exists()


def test_a_comprehension_over_every_pair_of_metrics_is_refused_as_too_costly(company):
    pairs = 'metrics.exists(a, metrics.exists(b, a == b + "_gap"))'
    document = DEFAULT.replace('when: tier == "prohibited"', f"when: '{pairs}'")

    response = publish(company.grace, document)

    assert response.status_code == 400, response.json()
    assert "65792 times" in response.json()["detail"]
    assert "at most 10000" in response.json()["detail"]


def test_a_rule_too_slow_on_the_largest_allowed_request_is_refused_at_publish(company, settings):
    """Within every static cap (256 metrics times 38 items), but celpy needs seconds for it."""
    settings.POLICY_EVALUATION_BUDGET_MS = 200
    items = "[" + ", ".join(str(i) for i in range(38)) + "]"
    slow = f'metrics.exists(a, {items}.exists(b, a + string(b) == "x"))'
    document = DEFAULT.replace('when: tier == "prohibited"', f"when: '{slow}'")

    response = publish(company.grace, document)

    assert response.status_code == 400, response.json()
    assert response.json()["detail"].endswith(
        "rule 'prohibited': the expression needs more than the 200 ms evaluation budget on the "
        "largest request the portal accepts (256 metrics, 128 tags, 64 items in other lists); "
        "make it cheaper."
    )
    assert not PolicyVersion.objects.exists()


def test_a_deeply_nested_yaml_document_is_refused_at_once(company):
    depth = 20_000
    document = "name: default\nrules: " + "[" * depth + "]" * depth + "\n"  # 40 kB

    response, seconds = timed(lambda: publish(company.grace, document))

    assert response.status_code == 400, response.json()
    assert "nested more than 12 levels deep" in response.json()["detail"]
    assert seconds < 1.0


def test_a_deeply_nested_block_yaml_document_is_refused(company):
    document = "name: default\nrules:\n" + "".join("  " * i + "- \n" for i in range(1, 40))

    response = publish(company.grace, document)

    assert response.status_code == 400
    assert "nested more than 12 levels deep" in response.json()["detail"]


def test_a_policy_with_too_many_rules_is_refused_naming_the_limit(company):
    rules = "".join(
        f"  - id: rule-{i}\n    when: 'replicas > {i}'\n    outcome: allow\n    reason: Fine.\n"
        for i in range(51)
    )

    response = publish(company.grace, f"name: default\nrules:\n{rules}")

    assert response.status_code == 400
    assert response.json()["detail"] == "The policy has 51 rules; a policy may have at most 50."


def test_a_dry_run_of_a_draft_with_nested_comprehensions_is_refused_at_once(company):
    response, seconds = timed(
        lambda: dry_run(company.grace, SAMPLE_CONTEXT, document=nested_policy())
    )

    assert response.status_code == 400
    assert seconds < 1.0


def test_a_published_policy_that_runs_out_of_budget_on_a_request_fails_closed(company, settings):
    """A version stored before the caps existed still cannot hold a web thread for long."""
    settings.POLICY_EVALUATION_BUDGET_MS = 200
    document = nested_policy()
    PolicyVersion.objects.create(
        name="default",
        version=1,
        document=document,
        content_hash=content_hash(document),
        source="api",
        published_by_label="grace",
    )
    version = make_version(company.a, "quick-model")
    classify(company.a, version, "minimal")

    started = time.monotonic()
    deployment = request(company.a, version, company.amir, environment="staging")
    seconds = time.monotonic() - started

    assert deployment.state == "rejected"
    (reason,) = deployment.decision["reasons"]
    assert reason.startswith("Rule 'nested' could not be evaluated on this request (it needs more")
    assert "200 ms" in reason
    assert seconds < 5.0


def test_a_policy_worker_that_stops_answering_is_killed_and_the_rules_fail_closed(settings):
    settings.POLICY_EVALUATION_BUDGET_MS = 100
    rules_evaluate(["true"], {})
    hung = policy_budget._idle[-1]  # the next evaluation takes this one
    os.kill(hung.process.pid, signal.SIGSTOP)

    outcomes, seconds = timed(lambda: rules_evaluate(["true", "false"], {}))

    assert outcomes == [Outcome("budget"), Outcome("budget")]
    assert hung.process.returncode is not None
    assert (
        seconds < 0.1 * policy_budget.WALL_CLOCK_FACTOR + policy_budget.WALL_CLOCK_SLACK_SECONDS + 2
    )
    assert rules_evaluate(["true"], {}) == [Outcome("bool", True)]


def test_the_default_policy_passes_the_worst_case_check_and_still_decides_as_before(
    company, high_risk_version
):
    assert [v.version for v in policy_load_from_repo()] == [1]

    deployment = request(company.a, high_risk_version, company.amir, environment="production")

    assert deployment.state == "pending_approval"
    assert deployment.decision["requirements"] == {"governance_lead": 2}


def test_a_dry_run_body_nested_thousands_deep_is_a_400_not_a_500(company):
    depth = 100_000
    body = '{"tenant": "acme-retail", "context": {"tags": ' + "[" * depth + "]" * depth + "}}"

    response = client_for(company.amir).post(
        "/api/v1/policies/dry-run/", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert "nests objects or lists too deeply" in response.json()["detail"]
