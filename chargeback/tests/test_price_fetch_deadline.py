"""A price source that trickles its answer is cut at the download's deadline, not read forever."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from chargeback import fetch
from chargeback.models import RefreshStatus
from chargeback.services.prices import price_source_refresh
from chargeback.tests.builders import source
from tests.slow_peers import TricklingServer

pytestmark = pytest.mark.django_db
REAL_HTTP_GET = fetch.http_get  # the tests of this app replace it with recorded answers


@pytest.fixture
def trickling_source(settings, monkeypatch) -> Iterator[TricklingServer]:
    monkeypatch.setattr(fetch, "http_get", REAL_HTTP_GET)
    settings.PRICE_ALLOW_PRIVATE_HOSTS = True  # the source listens on loopback
    settings.PRICE_FETCH_TIMEOUT_SECONDS = 2  # each read: the source sends a byte every second
    settings.PRICE_FETCH_DEADLINE_SECONDS = 3
    server = TricklingServer(every=1.0, lasts=90)
    yield server
    server.stop()


def test_a_price_source_that_trickles_is_cut_at_the_deadline_and_the_refresh_says_so(
    trickling_source,
):
    aws = source("aws-sagemaker")
    aws.url = trickling_source.url("/offers/region_index.json")
    aws.save(update_fields=["url"])

    started = time.monotonic()
    result = price_source_refresh(source=aws)
    took = time.monotonic() - started

    assert took < 3 + 4, f"the refresh read the trickling source for {took:.0f} s"
    assert result.outcome == "failed"
    assert "did not answer in full within 3 seconds" in result.error
    assert "PRICE_FETCH_DEADLINE_SECONDS" in result.error
    aws.refresh_from_db()
    assert aws.status == RefreshStatus.FAILED
    assert trickling_source.connections == 1  # a cut at the deadline is not retried at once
