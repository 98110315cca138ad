"""Every hostile URI or URL of ``hostile_inputs.yaml`` is refused wherever a person can give one.

The places: webhook endpoints, price sources (their form and every fetch), the dataset a baseline
is built from, and model registration. A refusal is a 4xx (or a form error) with a sentence, and
nothing is stored or called. Private hosts are refused as in production (the development default
allows them). Redirects a receiver answers with are reported, not followed.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from chargeback import fetch
from chargeback.admin import PriceSourceForm
from chargeback.fetch import PriceFetchError
from portal.catalog.models import ModelVersion
from portal.core.urls_safety import PrivateAddressRefused, open_url
from portal.monitoring.models import Baseline
from tenants.models import WebhookEndpoint
from tenants.scoping import tenant_scope
from tenants.webhooks import _post
from tests.builders import client_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

HOSTILE = yaml.safe_load(Path(__file__).with_name("hostile_inputs.yaml").read_text())
INPUTS = [value for values in HOSTILE["inputs"].values() for value in values]
# Refused in development mode too, which allows loopback and private networks written plainly.
NEVER = [
    *HOSTILE["inputs"]["link_local"],
    *HOSTILE["inputs"]["metadata"],
    *HOSTILE["inputs"]["ipv4_mapped_ipv6"],
]
PUBLIC_ADDRESS = "93.184.215.14"
PRIVATE_ADDRESS = "10.0.0.5"


@pytest.fixture(autouse=True)
def production_checks(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    settings.PRICE_ALLOW_PRIVATE_HOSTS = False
    settings.BASELINE_DATASET_ROOTS = ["/var/datasets"]
    settings.MLFLOW_TRACKING_URI = "http://127.0.0.1:9"  # a call that gets through fails loudly
    monkeypatch.setattr(socket, "getaddrinfo", _public_dns)


_resolve = socket.getaddrinfo


def _public_dns(host, port, *args, **kwargs):
    """Every name resolves to a public address (localhost to loopback, *.internal.example to a
    private one), so nothing here is refused only because this machine has no DNS."""
    if host in {"localhost", "localhost."}:
        return _resolve("127.0.0.1", port, *args, **kwargs)
    if host.endswith(".internal.example"):
        return _resolve(PRIVATE_ADDRESS, port, *args, **kwargs)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _resolve(PUBLIC_ADDRESS, port, *args, **kwargs)
    return _resolve(host, port, *args, **kwargs)


def refusal_problem(value: str, answer) -> str | None:
    """Why ``answer`` is not a refusal with a sentence, or None when it is one."""
    if not 400 <= answer.status_code < 500:
        return f"{value!r}: answered {answer.status_code} {answer.content[:200]!r}"
    detail = answer.json().get("detail", "")
    if len(detail) < 15 or not detail.rstrip().endswith((".", ")")):
        return f"{value!r}: the refusal is not a sentence: {detail!r}"
    return None


def test_the_list_covers_every_kind_of_hostile_input():
    assert set(HOSTILE["inputs"]) >= {
        "file_uris",
        "traversal",
        "private",
        "loopback",
        "link_local",
        "ipv4_mapped_ipv6",
        "numeric_ip_forms",
        "metadata",
    }
    assert len(INPUTS) == len(set(INPUTS))


def test_a_plain_public_url_is_accepted(world):
    alice = client_for(world.company.alice)
    answer = alice.post(
        f"/api/v1/tenants/{world.a.tenant.slug}/webhooks/",
        {"url": "https://hooks.example.com/portal", "events": ["*"]},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    form = PriceSourceForm(
        data={"name": "mirror", "kind": "aws_bulk", "url": "https://prices.example.com/index.json"}
    )
    assert form.is_valid(), form.errors


def test_webhook_endpoints_refuse_every_hostile_url(world):
    alice = client_for(world.company.alice)
    base = f"/api/v1/tenants/{world.a.tenant.slug}/webhooks/"
    problems = []
    for value in INPUTS:
        answer = alice.post(base, {"url": value, "events": ["*"]}, format="json")
        problems.append(refusal_problem(value, answer))
        changed = alice.patch(f"{base}{world.a.webhook.pk}/", {"url": value}, format="json")
        if changed.status_code >= 500:
            problems.append(f"{value!r}: PATCH answered {changed.status_code}")
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)
    with tenant_scope(world.a.tenant):
        assert WebhookEndpoint.objects.count() == 1
        world.a.webhook.refresh_from_db()
    assert world.a.webhook.url == "https://hooks.acme.example/portal"


def test_price_sources_refuse_every_hostile_url_in_the_form_and_when_fetching(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a hostile price URL was fetched")

    monkeypatch.setattr(fetch, "_get_once", no_network)
    problems = []
    for value in INPUTS:
        form = PriceSourceForm(
            data={"name": "mirror", "kind": "aws_bulk", "url": value, "region": "us-east-1"}
        )
        if form.is_valid() or not form.errors.get("url"):
            problems.append(f"{value!r}: the price source form accepted it")
        elif not form.errors["url"][0].rstrip().endswith((".", ")")):
            problems.append(f"{value!r}: the form's refusal is not a sentence")
        with pytest.raises(PriceFetchError, match=r"is not fetched: .{15,}"):
            fetch.http_get(value)
    assert not problems, "\n".join(problems)


def test_baselines_refuse_every_hostile_dataset_source(world, django_capture_on_commit_callbacks):
    amir = client_for(world.company.amir)
    version = world.a.live.model_version
    path = (
        f"/api/v1/tenants/{world.a.tenant.slug}/models/{version.model.name}/versions/"
        f"{version.version}/baseline/"
    )
    problems = []
    with django_capture_on_commit_callbacks() as queued:
        for value in INPUTS:
            with tenant_scope(world.a.tenant):
                ModelVersion.objects.filter(pk=version.pk).update(
                    datasets=[{"name": "train", "source": value, "context": "training"}]
                )
            answer = amir.post(path, {"source": "dataset"}, format="json")
            problems.append(refusal_problem(value, answer))
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)
    assert queued == [], "a baseline build was queued for a hostile source"
    with tenant_scope(world.a.tenant):
        assert Baseline.objects.filter(model_version=version).count() == 1


def test_model_registration_refuses_every_hostile_source(world):
    amir = client_for(world.company.amir)
    path = f"/api/v1/tenants/{world.a.tenant.slug}/models/"
    name = f"{world.a.tenant.slug}-new-model"  # a name the unit may use: the source is refused
    problems = []
    for value in INPUTS:
        for body in (
            {"name": name, "run_id": "0" * 32, "artifact_path": value},
            {"name": name, "logged_model_id": value},
            {"name": name, "run_id": value},
        ):
            problems.append(refusal_problem(value, amir.post(path, body, format="json")))
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)


def test_development_mode_still_refuses_link_local_metadata_and_embedded_ipv4_forms(
    world, settings, monkeypatch
):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.PRICE_ALLOW_PRIVATE_HOSTS = True
    monkeypatch.setattr(fetch, "_get_once", lambda *a, **k: pytest.fail("a price URL was fetched"))
    alice = client_for(world.company.alice)
    base = f"/api/v1/tenants/{world.a.tenant.slug}/webhooks/"
    problems = []
    for value in NEVER:
        problems.append(refusal_problem(value, alice.post(base, {"url": value}, format="json")))
        form = PriceSourceForm(
            data={"name": "mirror", "kind": "aws_bulk", "url": value, "region": "us-east-1"}
        )
        if form.is_valid():
            problems.append(f"{value!r}: the price source form accepted it in development mode")
        with pytest.raises(PriceFetchError, match=r"is not fetched: .{15,}"):
            fetch.http_get(value)
    assert not [p for p in problems if p], "\n".join(p for p in problems if p)


def test_development_mode_accepts_loopback_and_private_networks(world, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.PRICE_ALLOW_PRIVATE_HOSTS = True
    alice = client_for(world.company.alice)
    base = f"/api/v1/tenants/{world.a.tenant.slug}/webhooks/"
    for value in HOSTILE["development_allows"]:
        answer = alice.post(base, {"url": value, "events": ["*"]}, format="json")
        assert answer.status_code == 201, (value, answer.content)
        form = PriceSourceForm(data={"name": "mirror", "kind": "aws_bulk", "url": value})
        assert form.is_valid(), (value, form.errors)


# --- At call time -------------------------------------------------------------------------------


class _Redirecting(BaseHTTPRequestHandler):
    answers: list[dict] = []
    hits: list[str] = []

    def _answer(self) -> None:
        self.hits.append(self.path)
        answer = self.answers[int(self.path.strip("/") or 0)]
        self.send_response(answer["status"])
        self.send_header("Location", answer["location"])
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def redirecting_server():
    _Redirecting.answers = HOSTILE["redirects"]
    _Redirecting.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Redirecting.hits
    server.shutdown()
    server.server_close()


def test_a_price_fetch_reports_a_redirect_and_does_not_follow_it(redirecting_server, settings):
    settings.PRICE_ALLOW_PRIVATE_HOSTS = True  # the test server listens on loopback
    base, hits = redirecting_server
    for index, answer in enumerate(HOSTILE["redirects"]):
        with pytest.raises(PriceFetchError, match="not followed") as refused:
            fetch.http_get(f"{base}/{index}")
        assert str(answer["status"]) in str(refused.value)
    assert hits == [f"/{i}" for i in range(len(HOSTILE["redirects"]))]


def test_a_webhook_delivery_reports_a_redirect_and_does_not_follow_it(redirecting_server, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    base, hits = redirecting_server
    for index in range(len(HOSTILE["redirects"])):
        answer = _post(f"{base}/{index}", body=b"{}", headers={})
        assert not answer.ok and "redirects are not followed" in answer.error
    assert len(hits) == len(HOSTILE["redirects"])


def test_a_call_to_a_name_that_now_resolves_to_a_private_address_is_not_made(
    redirecting_server,
):
    base, hits = redirecting_server
    request = urllib.request.Request(f"{base}/0")  # noqa: S310 (a test server on loopback)
    with pytest.raises(PrivateAddressRefused, match="not a public address"):
        open_url(request, timeout=5, allow_private=False)
    assert hits == []


class _Proxy(BaseHTTPRequestHandler):
    """An HTTP proxy that answers every request itself, and remembers what it was asked for."""

    hits: list[str] = []

    def _answer(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"secret")

    do_GET = do_POST = do_CONNECT = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def proxy_in_the_environment(monkeypatch):
    _Proxy.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield _Proxy.hits
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/"]
)
def test_with_a_proxy_set_a_call_in_development_mode_never_reaches_a_metadata_address(
    proxy_in_the_environment, url
):
    request = urllib.request.Request(url)  # noqa: S310 (refused before any connection)
    with pytest.raises(PrivateAddressRefused, match="metadata"):
        open_url(request, timeout=5, allow_private=True)
    assert proxy_in_the_environment == []


def test_with_a_proxy_set_a_target_on_a_private_address_is_still_refused(
    proxy_in_the_environment, redirecting_server
):
    base, target_hits = redirecting_server
    request = urllib.request.Request(f"{base}/0")  # noqa: S310 (a test server on loopback)
    with pytest.raises(PrivateAddressRefused, match="not a public address"):
        open_url(request, timeout=5, allow_private=False)
    with pytest.raises(PriceFetchError, match="not a public address"):
        fetch.http_get("https://prices.internal.example/index.json")
    assert proxy_in_the_environment == [] and target_hits == []


def test_a_webhook_in_development_mode_is_never_delivered_to_a_metadata_address(
    proxy_in_the_environment, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    answer = _post("http://169.254.169.254/latest/meta-data/", body=b"{}", headers={})
    assert not answer.ok and not answer.retryable and "metadata" in answer.error
    assert proxy_in_the_environment == []
