"""A model name is MLflow's to choose: in every export it reads as text, never as a formula.

MLflow forbids only ``/`` and ``:`` in a registered model's name, and every version with an
artifact gets a storage line, so a name like ``=2+5+cmd|' -C calc'!A0`` reaches the statement's
cells without any deployment. A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return; such text cells get a leading single quote. Amounts stay numbers,
credits (negative amounts) included.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from decimal import Decimal

import pytest

from chargeback.models import Statement
from chargeback.services.statements import credit_issue, statement_finalize
from chargeback.tests.builders import closed_month
from governance.tests.builders import make_version
from portal.catalog.models import ModelVersion
from tenants.scoping import tenant_scope
from tests.builders import TEST_ACTOR, client_for

pytestmark = pytest.mark.django_db
HOSTILE = "=2+5+cmd|' -C calc'!A0"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
AMOUNT_COLUMNS = {
    "csv": ("quantity", "list_cost", "contracted_cost", "billed_cost", "amount"),
    "focus": (
        "BilledCost",
        "ConsumedQuantity",
        "ContractedCost",
        "EffectiveCost",
        "ListCost",
        "PricingQuantity",
    ),
}


@pytest.fixture
def november_with_a_hostile_model(company):
    """A unit whose catalog holds a version named like a formula, with stored artifacts, and a
    credit from October carried on November's statement."""
    version = make_version(company.a, name=HOSTILE)
    with tenant_scope(company.a):
        ModelVersion.objects.filter(pk=version.pk).update(
            artifact_size_bytes=5 * 1024**3,
            created_at=datetime.fromisoformat("2026-09-01T00:00:00+00:00"),
        )
    closed_month(company, "2026-10")
    with tenant_scope(company.a):
        october = Statement.objects.get(period__month="2026-10-01")
        statement_finalize(actor=TEST_ACTOR, statement=october)
        credit_issue(
            actor=TEST_ACTOR, statement=october, amount=Decimal("0.05"), reason="Goodwill."
        )
    november = closed_month(company, "2026-11")
    with tenant_scope(company.a):
        return Statement.objects.get(period=november)


def export(company, statement, kind: str) -> list[dict[str, str]]:
    answer = client_for(company.fiona).get(
        f"/api/v1/statements/{statement.pk}/export/?format={kind}"
    )
    assert answer.status_code == 200, answer.content[:300]
    assert re.fullmatch(
        r"attachment; filename=\"[A-Za-z0-9._-]+\.csv\"; filename\*=UTF-8''\S+\.csv",
        answer["Content-Disposition"],
    )
    return list(csv.DictReader(io.StringIO(answer.content.decode())))


@pytest.mark.parametrize("kind", ["csv", "focus"])
def test_a_model_named_like_a_formula_reads_as_text_in_the_export(
    company, november_with_a_hostile_model, kind
):
    rows = export(company, november_with_a_hostile_model, kind)

    cells = [(column, value) for row in rows for column, value in row.items()]
    assert any(value == "'" + HOSTILE for _, value in cells), "the model's line is missing"
    assert any(HOSTILE in value for _, value in cells)
    live = [
        (column, value)
        for column, value in cells
        if value.startswith(FORMULA_STARTS) and column not in AMOUNT_COLUMNS[kind]
    ]
    assert live == []


@pytest.mark.parametrize(("kind", "amount"), [("csv", "amount"), ("focus", "BilledCost")])
def test_a_credit_stays_a_negative_number_in_the_export(
    company, november_with_a_hostile_model, kind, amount
):
    rows = export(company, november_with_a_hostile_model, kind)

    credits = [row[amount] for row in rows if row[amount].startswith("-")]
    assert credits == ["-0.05"]
    assert Decimal(credits[0]) == Decimal("-0.05")
    for row in rows:
        for column in AMOUNT_COLUMNS[kind]:
            assert row[column] == "" or Decimal(row[column]) is not None
