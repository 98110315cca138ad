"""The request id of a request is in every log line it causes: in the web process (gunicorn) and in
the Celery task it enqueues, run by a real worker. A task that no request enqueued (beat's) logs
under a fresh id of its own."""

from __future__ import annotations

import re
import secrets
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django_guid import clear_guid, get_guid, set_guid
from kombu.exceptions import OperationalError as BrokerUnavailable

from portal.catalog.models import SyncRun
from portal.catalog.tasks import sync_tenant
from portal.core import outbox
from portal.core.models import TaskOutbox
from tenants.scoping import tenant_scope
from tests.builders import make_token
from tests.processes import AppServer, CeleryWorker, database_url, wait_for

# The format of settings.LOGGING: "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] ..."
LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<logger>\S+) "
    r"\[(?P<request_id>[^\]]+)\] (?P<message>.*)$"
)
SKIPPED = "sync of {slug} skipped: another one is running"


@dataclass(frozen=True)
class Line:
    logger: str
    request_id: str
    message: str


def log_lines(path: Path) -> list[Line]:
    """The lines the portal's log format wrote (gunicorn's and Celery's banners are left out)."""
    found = (LINE.match(text) for text in path.read_text(errors="replace").splitlines())
    return [Line(m["logger"], m["request_id"], m["message"]) for m in found if m]


@pytest.fixture
def processes(transactional_db, tmp_path) -> Iterator[tuple[AppServer, CeleryWorker]]:
    """gunicorn and a Celery worker (logging from INFO up) on the test database and broker."""
    from portal.celery import app

    app.control.purge()
    shared = {
        "DATABASE_URL": database_url(settings.DATABASES["default"]),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "PORTAL_VAR_DIR": str(settings.VAR_DIR),
        "LOG_LEVEL": "INFO",
    }
    worker = CeleryWorker(
        tmp_path / "worker.log",
        broker_url=settings.CELERY_BROKER_URL,
        env=shared,
        loglevel="INFO",
    ).start()
    web = AppServer(tmp_path / "web.log", env=shared)
    try:
        web.start(timeout=60)
        yield web, worker
    finally:
        web.stop()
        worker.stop()
        app.control.purge()


@pytest.mark.postgres
@pytest.mark.redis
def test_the_request_id_is_in_every_log_line_of_the_request_and_of_the_task_it_enqueues(
    company, processes
):
    web, worker = processes
    _, token = make_token(company.a, ["write"])
    with tenant_scope(company.a):  # the task finds a sync running: it logs that and stands down
        SyncRun.objects.create(tenant=company.a, trigger="test", deep=False)
    skipped = SKIPPED.format(slug=company.a.slug)
    request_id = f"trace-{secrets.token_hex(8)}"

    ask = urllib.request.Request(  # noqa: S310 (loopback)
        f"{web.url}/api/v1/tenants/{company.a.slug}/sync/",
        method="POST",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id},
    )
    with urllib.request.urlopen(ask, timeout=30) as answer:  # noqa: S310 (loopback)
        assert answer.status == 202, answer.read()
        assert answer.headers["X-Request-ID"] == request_id
    assert wait_for(
        lambda: any(line.message == skipped for line in log_lines(worker.log)), seconds=60
    ), f"the worker did not run the task:\n{worker.output()}"
    assert wait_for(
        lambda: any("succeeded" in line.message for line in log_lines(worker.log)), seconds=10
    ), worker.output()

    # The web side: the line that says which task the request sent, under the request's id.
    web_lines = log_lines(web.log)
    sent = [line for line in web_lines if line.message.startswith("Task catalog.sync_tenant sent")]
    assert len(sent) == 1, web.output()
    assert sent[0].request_id == request_id
    task_id = sent[0].message.rsplit(" ", 1)[-1]
    served = [line for line in web_lines if line.request_id != "-"]
    assert served and all(line.request_id == request_id for line in served), web.output()

    # The worker side: its line on taking the message, what the task logged, and Celery's line on
    # its outcome, all under the same id.
    worker_lines = log_lines(worker.log)
    of_task = [line for line in worker_lines if line.message == skipped or task_id in line.message]
    assert [line.logger for line in of_task] == [
        "celery.worker.strategy",
        "portal.catalog.sync",
        "celery.app.trace",
    ], worker.output()
    assert all(line.request_id == request_id for line in of_task), worker.output()
    ran = [line for line in worker_lines if line.request_id != "-"]
    assert ran and all(line.request_id == request_id for line in ran), worker.output()

    # A task that no request enqueued, as beat sends them, runs under a fresh id of its own.
    sync_tenant.apply_async(kwargs={"tenant_id": company.a.pk, "trigger": "schedule"})
    assert wait_for(
        lambda: sum(line.message == skipped for line in log_lines(worker.log)) == 2, seconds=60
    ), worker.output()
    own = [line for line in log_lines(worker.log) if line.message == skipped][-1].request_id
    assert re.fullmatch(r"[0-9a-f]{32}", own) and own != request_id


@pytest.mark.django_db
def test_a_request_id_that_is_not_8_to_64_plain_characters_is_replaced_by_a_fresh_one(client):
    for sent in ("short", "x" * 65, "spaces are not allowed", "semi;colon-12345"):
        answer = client.get("/healthz", HTTP_X_REQUEST_ID=sent)
        assert re.fullmatch(r"[0-9a-f]{32}", answer["X-Request-ID"]), sent
    kept = "a.B_c:d-1234"
    assert client.get("/healthz", HTTP_X_REQUEST_ID=kept)["X-Request-ID"] == kept


def test_the_api_docs_alone_may_use_inline_styles(client):
    docs = client.get("/api/docs/")["Content-Security-Policy"]
    page = client.get("/login/")["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in page.split("; ")}
    assert directives == {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    assert "style-src 'self' 'unsafe-inline'" in docs
    assert sorted(docs.replace(" 'unsafe-inline'", "").split("; ")) == sorted(page.split("; "))


@pytest.mark.django_db
def test_a_task_kept_in_the_outbox_is_sent_later_under_the_id_of_the_request_that_enqueued_it(
    monkeypatch,
):
    from portal.celery import app

    class BrokerDown:
        name = "catalog.sync_tenant"

        def __init__(self) -> None:
            self.app = app

        def apply_async(self, *args, **kwargs):
            raise BrokerUnavailable("the broker is not answering")

    set_guid("trace-kept-0001")
    try:
        outbox.publish_or_keep(BrokerDown(), (), {"tenant_id": 1})
    finally:
        clear_guid()
    assert TaskOutbox.objects.get().request_id == "trace-kept-0001"

    sent: list[tuple[str, str | None]] = []
    monkeypatch.setattr(app, "send_task", lambda name, **options: sent.append((name, get_guid())))
    set_guid("relay-run-0001")  # the relay task's own id
    try:
        assert outbox.outbox_relay() == 1
        assert get_guid() == "relay-run-0001"
    finally:
        clear_guid()
    assert sent == [("catalog.sync_tenant", "trace-kept-0001")]
