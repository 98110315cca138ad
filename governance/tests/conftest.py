"""The high-risk model version the governance tests build on (see ``builders``)."""

from __future__ import annotations

import pytest

from governance.tests.builders import classify, complete_card, make_version


@pytest.fixture
def high_risk_version(company):
    """A high-risk credit model of tenant A with a complete card and the evidence the policy wants."""
    version = make_version(company.a)
    classify(company.a, version, "high")
    complete_card(company.a, version)
    return version
