"""Model servers are sandboxed: a model's code reaches nothing but its own files.

The hostile model is a real MLflow pyfunc model whose code tries, while it loads and while it
predicts, to read the portal's database and secrets, the portal's processes' environments and
another unit's model, to connect to every service on the machine and to another unit's model
server, and to signal the portal's process; it answers with what each attempt did. Run with
``SERVING_SANDBOX=off`` the same test fails: every one of those attempts succeeds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import urllib3
from django.core.management import CommandError, call_command
from django.test import Client

from governance.classification import MINIMAL_RISK_ANSWERS
from portal.catalog.sync import registry_sync
from portal.deployments import sandbox
from portal.deployments.models import Deployment
from portal.deployments.modelserver.scoring_guard import SECRET_HEADER, guard
from portal.deployments.runtime import ServingRuntime
from portal.deployments.tests.serving import (
    credit_features,
    log_constant_regressor,
    log_hostile_model,
    serving_runtime,
    wait_for,
)
from portal.deployments.unix_http import UnixPools, read_secret
from tenants.scoping import tenant_scope
from tests.builders import client_for, make_token

MINIMAL = MINIMAL_RISK_ANSWERS


def register(tenant, person, mlflow_server, name: str, logged: tuple[str, str]) -> None:
    """Register a logged model under ``tenant``, sync it and classify it minimal risk."""
    run_id, model_id = logged
    client = mlflow_server.client
    client.create_registered_model(name, tags={"portal.tenant": tenant.slug})
    client.create_model_version(
        name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id
    )
    with tenant_scope(tenant):
        registry_sync(tenant=tenant)
    answer = client_for(person).post(
        f"/api/v1/tenants/{tenant.slug}/models/{name}/classification/",
        {"answers": MINIMAL},
        format="json",
    )
    assert answer.status_code in (200, 201), answer.content


def deploy(tenant, person, name: str) -> int:
    answer = client_for(person).post(
        f"/api/v1/tenants/{tenant.slug}/deployments/",
        {"model": name, "version": 1, "environment": "staging", "instance_type": "cpu.small"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    return answer.json()["id"]


def live(tenant, deployment_id: int) -> Deployment:
    def check():
        with tenant_scope(tenant):
            deployment = Deployment.objects.get(pk=deployment_id)
        assert deployment.state not in ("failed", "cancelled"), deployment.serving
        return deployment if deployment.state == "live" else None

    return wait_for(check, timeout=240, what=f"deployment {deployment_id} to go live")


@pytest.fixture
def canaries(settings):
    """The portal's database and MLflow webhook secret files, as ``make run`` leaves them (made
    for the test where this run keeps them elsewhere, and removed after)."""
    var = Path(settings.VAR_DIR)
    database = settings.DATABASES["default"]["NAME"]
    database = Path(database) if str(database).startswith("/") else var / "portal.db"
    secret = var / "mlflow" / "webhook-secret"
    made = []
    for path in (database, secret):
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("canary")
            made.append(path)
    yield {"database": str(database), "webhook secret": str(secret)}
    for path in made:
        path.unlink(missing_ok=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_celery")
def test_a_models_code_reaches_nothing_but_its_own_files(
    company, mlflow_server, live_server, canaries, settings, tmp_path
):
    me, parent = os.getpid(), os.getppid()
    at_load = {
        "read": {
            **canaries,
            "the test process's environment": f"/proc/{me}/environ",
            "its parent's environment": f"/proc/{parent}/environ",
        },
        "list": {"the serving folder": str(settings.SERVING_DIR), "var": str(settings.VAR_DIR)},
        "tcp": {
            "PostgreSQL": 5432,
            "Redis": 6379,
            "the portal": urlsplit(live_server.url).port,
            "MLflow": urlsplit(mlflow_server.url).port,
        },
        "signal": {"the test process": me},
    }
    register(
        company.a,
        company.amir,
        mlflow_server,
        "hostile",
        log_hostile_model(mlflow_server.url, tmp_path, at_load),
    )
    register(
        company.b,
        company.ben,
        mlflow_server,
        "scorer",
        log_constant_regressor(mlflow_server.url, 1.0),
    )
    _, token = make_token(company.a, ["predict"])

    with serving_runtime() as runtime:
        hostile_id = deploy(company.a, company.amir, "hostile")
        other_id = deploy(company.b, company.ben, "scorer")
        live(company.a, hostile_id)
        other = live(company.b, other_id)
        other_server = runtime.servers[other_id]
        at_prediction = {
            "read": {
                **at_load["read"],
                "another unit's model": str(other_server.model_path / "MLmodel"),
                "another unit's server secret": str(
                    other_server.socket_path.parent.parent / "secret"
                ),
            },
            "list": {"another unit's model": str(other_server.model_path)},
            "tcp": at_load["tcp"],
            "unix": {"another unit's model server": other.serving["socket"]},
            "signal": {"the test process": me, "another unit's model server": other_server.pid},
        }
        answer = Client().post(
            f"/serve/{company.a.slug}/hostile-staging/invocations",
            data=json.dumps({"dataframe_records": [{"targets": json.dumps(at_prediction)}]}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert answer.status_code == 200, answer.content
    outcomes = json.loads(answer.json()["predictions"][0])
    assert len(outcomes) >= 2 * 11, outcomes  # every attempt ran, while loading and predicting
    reached = {what: got for what, got in outcomes.items() if not got.startswith("refused")}
    assert reached == {}, json.dumps(outcomes, indent=1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_celery")
def test_a_model_server_answers_only_the_gateway_and_units_never_see_where_it_runs(
    company, mlflow_server, settings
):
    register(
        company.a,
        company.amir,
        mlflow_server,
        "scorer",
        log_constant_regressor(mlflow_server.url, 1.0),
    )
    body = {"dataframe_split": credit_features(2).to_dict(orient="split", index=False)}
    with serving_runtime():
        deployment = live(company.a, deploy(company.a, company.amir, "scorer"))
        serving = deployment.serving
        assert serving["sandbox"] == "bwrap"
        assert "url" not in serving and "port" not in serving  # no TCP port to call at all
        pool = UnixPools(maxsize=1, retries=False).pool(serving["socket"])

        without = pool.request("POST", "/invocations", json=body)
        wrong = pool.request("POST", "/invocations", json=body, headers={SECRET_HEADER: "guess"})
        ping = pool.request("GET", "/ping")
        right = pool.request(
            "POST",
            "/invocations",
            json=body,
            headers={SECRET_HEADER: read_secret(serving["socket"])},
        )

        shown = client_for(company.amir).get(
            f"/api/v1/tenants/{company.a.slug}/deployments/{deployment.pk}/"
        )
        listed = client_for(company.amir).get(f"/api/v1/tenants/{company.a.slug}/deployments/")
        browser = Client()
        browser.force_login(company.amir)
        page = browser.get(f"/t/{company.a.slug}/deployments/{deployment.pk}/")

    for refused in (without, wrong, ping):
        assert refused.status == 403, refused.data
        assert json.loads(refused.data)["error_code"] == "PERMISSION_DENIED"
    assert right.status == 200 and json.loads(right.data)["predictions"] == pytest.approx(
        [1.0, 1.0]
    )

    assert shown.status_code == 200 and listed.status_code == 200 and page.status_code == 200
    assert shown.json()["serving"]["state"] == "ready"
    for answer in (shown.json(), listed.json()["results"][0]):
        assert not {"socket", "pid", "url", "port", "sandbox"} & set(answer["serving"])
    for detail in (serving["socket"], f">{serving['pid']}<", str(settings.SERVING_DIR)):
        assert detail not in shown.content.decode() + page.content.decode()


# --- the sandbox's start ------------------------------------------------------------------------


def test_the_runtime_refuses_to_start_where_no_sandbox_can_start(settings, monkeypatch, tmp_path):
    settings.SERVING_DIR = tmp_path / "serving"
    refusing = tmp_path / "bwrap"
    refusing.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    refusing.chmod(0o700)
    monkeypatch.setattr(sandbox, "BWRAP", str(refusing))
    with pytest.raises(sandbox.SandboxUnavailable, match="SERVING_SANDBOX=off") as refused:
        ServingRuntime()
    assert "No permissions to create new namespace" in str(refused.value)
    with pytest.raises(CommandError, match="does not start: bubblewrap cannot start a sandbox"):
        call_command("run_serving")

    monkeypatch.setattr(sandbox, "BWRAP", str(tmp_path / "missing"))
    with pytest.raises(sandbox.SandboxUnavailable, match="not installed"):
        ServingRuntime()


def test_without_the_sandbox_the_runtime_starts_only_when_told_and_says_what_that_means(
    settings, monkeypatch, tmp_path, caplog
):
    settings.SERVING_DIR = tmp_path / "serving"
    settings.SERVING_SANDBOX = "off"
    monkeypatch.setattr(sandbox, "BWRAP", str(tmp_path / "missing"))
    with caplog.at_level("WARNING", logger="portal.deployments.runtime"):
        runtime = ServingRuntime()
    assert not runtime.sandboxed
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warned and "WITHOUT a sandbox" in warned[0].getMessage()
    assert "database" in warned[0].getMessage()


def test_a_sandbox_starts_here():
    sandbox.probe()


def test_a_sandbox_and_everything_in_it_end_when_the_process_that_started_it_is_killed(tmp_path):
    marker = f"{os.getpid()}{time.monotonic_ns() % 1000}.5"  # a sleep only this test starts
    (tmp_path / "model").mkdir()
    (tmp_path / "socket").mkdir()
    command = sandbox.bwrap_command(
        model=tmp_path / "model",
        socket_dir=tmp_path / "socket",
        code_dir=tmp_path / "model",
        command=["/bin/sh", "-c", f"sleep {marker} & sleep {marker}"],
    )
    launcher = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; subprocess.Popen(sys.argv[1:]); time.sleep(600)",
            *command,
        ]
    )
    try:
        wait_for(lambda: len(sleeping(marker)) == 2, timeout=30, what="the sandboxed processes")
        launcher.kill()  # as a runtime killed with SIGKILL: no clean-up of its own runs
        launcher.wait(timeout=10)
        wait_for(lambda: not sleeping(marker), timeout=10, what="the sandbox to end")
    finally:
        launcher.kill()
        for pid in sleeping(marker):
            os.kill(pid, signal.SIGKILL)


def sleeping(marker: str) -> list[int]:
    """The pids of the ``sleep <marker>`` processes on this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # not a process, or one that just ended
            continue
        if arguments[:2] == [b"sleep", marker.encode()]:
            found.append(int(entry.name))
    return found


# --- the secret check -----------------------------------------------------------------------------


def _call(headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes, bool]:
    reached = []

    async def inner(scope, receive, send):
        reached.append(True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/invocations", "headers": headers}
    # A thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, guard(inner, "s3cret")(scope, receive, send)).result()
    return sent[0]["status"], sent[1]["body"], bool(reached)


def test_the_model_servers_guard_calls_the_model_only_with_the_right_secret():
    header = SECRET_HEADER.lower().encode()
    assert _call([(header, b"s3cret")]) == (200, b"ok", True)
    for headers in ([], [(header, b"s3cre")], [(header, b"s3cret!")], [(b"x-other", b"s3cret")]):
        status, body, reached = _call(headers)
        assert (status, reached) == (403, False)
        assert json.loads(body)["error_code"] == "PERMISSION_DENIED"
    with pytest.raises(ValueError):
        guard(lambda *a: None, "")


def test_a_closed_socket_is_a_connection_error_the_gateway_retries(tmp_path):
    with pytest.raises(urllib3.exceptions.NewConnectionError):
        UnixPools(retries=False).request("GET", str(tmp_path / "none.sock"), "/ping", secret="x")


def test_the_gateway_never_follows_a_link_put_in_place_of_a_servers_socket(tmp_path):
    import socket

    elsewhere = tmp_path / "elsewhere.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listening:
        listening.bind(str(elsewhere))
        listening.listen(1)
        (tmp_path / "server.sock").symlink_to(elsewhere)
        with pytest.raises(urllib3.exceptions.NewConnectionError, match="not a Unix socket"):
            UnixPools(retries=False).request(
                "GET", str(tmp_path / "server.sock"), "/ping", secret="x"
            )
