"""PostgreSQL restarted under traffic: requests fail fast with a 503 that says so, then recover.

The shared cluster cannot be restarted while others use it, so the test runs a private one
(``initdb`` on a free loopback port), copies the test database into it, and serves the portal from
it with gunicorn while clients keep calling the API. PostgreSQL is stopped (a fast shutdown cuts
the open sessions) for a couple of seconds, then started again.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests.builders import make_token
from tests.processes import AppServer, PostgresServer, free_port, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FAIL_WITHIN = 6.0  # seconds: a request during the outage gets its answer at least this fast
RECOVER_WITHIN = 10.0  # seconds after PostgreSQL accepts connections again
CLIENTS = 4


@dataclass(frozen=True)
class Call:
    started: float
    took: float
    status: int | None  # None: no HTTP answer at all
    body: dict
    retry_after: str | None


class Traffic:
    """Clients calling one API URL in a loop until stopped."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(CLIENTS)]

    def start(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _loop(self) -> None:
        while not self.done.is_set():
            call = self._call()
            with self.lock:
                self.calls.append(call)
            time.sleep(0.05)

    def _call(self) -> Call:
        request = urllib.request.Request(  # noqa: S310 (loopback)
            self.url, headers={"Authorization": f"Bearer {self.token}"}
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                status, raw, retry_after = response.status, response.read(), None
        except urllib.error.HTTPError as error:
            status, raw, retry_after = error.code, error.read(), error.headers.get("Retry-After")
        except OSError as error:
            return Call(started, time.monotonic() - started, None, {"error": str(error)}, None)
        took = time.monotonic() - started
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"raw": raw[:300].decode(errors="replace")}
        return Call(started, took, status, body, retry_after)

    def since(self, moment: float) -> list[Call]:
        with self.lock:
            return [call for call in self.calls if call.started >= moment]


@pytest.fixture
def private_postgres():
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.remove()


def test_api_requests_fail_fast_while_postgresql_restarts_and_succeed_again_after(
    company, private_postgres, tmp_path
):
    _, token = make_token(company.a, ["read"])
    owner = settings.DATABASE_MIGRATE or settings.DATABASES["default"]
    private_postgres.copy_database(
        {**owner, "NAME": connection.settings_dict["NAME"]}, into="portal"
    )
    app = AppServer(
        tmp_path / "gunicorn.log",
        env={
            "DATABASE_URL": private_postgres.url("portal"),
            "PORTAL_VAR_DIR": str(tmp_path / "var"),
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",
        },
    ).start()
    traffic = Traffic(f"{app.url}/api/v1/tenants/{company.a.slug}/models/", token).start()
    try:
        assert wait_for(lambda: len(traffic.since(0)) >= 8, seconds=15), app.output()
        down_at = time.monotonic()
        private_postgres.stop()
        assert wait_for(lambda: any(c.status == 503 for c in traffic.since(down_at)), seconds=10)
        time.sleep(1.5)  # traffic keeps coming while PostgreSQL is down
        private_postgres.start()
        up_at = time.monotonic()
        assert wait_for(
            lambda: any(c.status == 200 for c in traffic.since(up_at)), seconds=RECOVER_WITHIN
        ), f"no request succeeded {RECOVER_WITHIN} s after the restart:\n{app.output()}"
        recovered_at = min(c.started + c.took for c in traffic.since(up_at) if c.status == 200)
        time.sleep(0.5)
    finally:
        traffic.stop()
        app.stop()

    calls = traffic.since(0)
    unanswered = [c for c in calls if c.status is None]
    assert not unanswered, f"requests got no answer: {unanswered[:3]}"
    assert {c.status for c in calls} <= {200, 503}, sorted({c.status for c in calls})
    slowest = max(c.took for c in calls)
    assert slowest < FAIL_WITHIN, f"a request took {slowest:.2f} s"
    failed = [c for c in calls if c.status == 503]
    assert all(c.body["code"] == "database_unavailable" for c in failed)
    assert all(c.body["detail"].endswith("try again in a minute.") for c in failed)
    assert all(c.retry_after for c in failed)
    after = [c for c in calls if c.started >= recovered_at]
    assert after and all(c.status == 200 for c in after), "requests failed after the recovery"
    print(
        f"\n{len(calls)} requests; {len(failed)} answered 503 during the outage, the slowest "
        f"failure in {max(c.took for c in failed):.3f} s; the slowest request {slowest:.3f} s; "
        f"first success {recovered_at - up_at:.2f} s after PostgreSQL was back"
    )


def test_a_page_asked_for_while_the_database_is_unreachable_says_to_try_again(company):
    browser = Client(raise_request_exception=False)
    browser.force_login(company.alice)
    database = connection.settings_dict
    reachable_port = database["PORT"]
    database["PORT"] = str(free_port())  # nothing listens there
    connection.close()
    try:
        started = time.monotonic()
        response = browser.get(f"/t/{company.a.slug}/models/")
        took = time.monotonic() - started
    finally:
        database["PORT"] = reachable_port
        connection.close()
    assert response.status_code == 503
    assert "The portal&#x27;s database is not answering right now" in response.content.decode()
    assert response["Retry-After"]
    assert took < FAIL_WITHIN
