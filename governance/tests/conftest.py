"""The high-risk model version the governance tests build on (see ``builders``)."""

from __future__ import annotations

import pytest

from governance.tests.builders import approved_card, classify, make_version


@pytest.fixture
def high_risk_version(company):
    """A high-risk credit model of tenant A with an approved card and the evidence the policy
    wants."""
    version = make_version(company.a)
    classify(company.a, version, "high")
    approved_card(company.a, version)
    return version
