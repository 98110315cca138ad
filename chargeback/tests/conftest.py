"""No test of this app reaches the network: the price APIs answer with recorded pages."""

from __future__ import annotations

import pytest

from chargeback import fetch
from chargeback.tests.builders import RecordedHttp


@pytest.fixture(autouse=True)
def http(monkeypatch) -> RecordedHttp:
    fake = RecordedHttp()
    monkeypatch.setattr(fetch, "http_get", fake)
    return fake
