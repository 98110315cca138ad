"""Each monitoring test captures traffic into a store of its own (see ``builders``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def capture_store(settings, tmp_path):
    settings.CAPTURE_STORE_URI = str(tmp_path / "capture")
    return tmp_path / "capture"
