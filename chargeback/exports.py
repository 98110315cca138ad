"""A statement as CSV, as a PDF, and as FOCUS 1.2 CSV (the FinOps open cost and usage format).

All three take the statement with its lines, tenant and period loaded and read nothing else.
Amounts are the lines' cents: the CSV also carries each line's unrounded billed cost. In FOCUS,
one line is one row: ``BilledCost`` and ``EffectiveCost`` are the line's amount (so the rows add
up to the statement's total), ``ListCost`` and ``ContractedCost`` its list and contracted cost
rounded the same way; usage lines are ``Usage``, the platform overhead a recurring ``Purchase``,
credit notes ``Credit`` with ``ChargeClass`` ``Correction`` (as is late usage of an earlier
month). Dates are ISO 8601 in UTC; the period's end is exclusive.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from fpdf import FPDF, FontFace, XPos, YPos

from chargeback.models import LineKind, Meter, Statement, StatementLine
from chargeback.models.statements import line_columns
from chargeback.services.metering import month_start, next_month
from governance.cards_render import UNICODE_FONT
from portal.core.downloads import csv_bytes

CENT = Decimal("0.01")
EXPORT_FORMATS = ("csv", "pdf", "focus")

FOCUS_COLUMNS = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ResourceId",
    "ResourceName",
    "ServiceCategory",
    "ServiceName",
    "SubAccountId",
    "SubAccountName",
    "Tags",
    "x_StatementId",
    "x_Meter",
    "x_DeploymentId",
    "x_ModelName",
    "x_ModelVersion",
    "x_InstanceType",
)
SERVICE_NAMES = {
    "inference": "Model serving",
    "training": "Model training",
    "monitoring": "Model monitoring",
    "storage": "Model artifact storage",
    "platform": "ML platform",
}
SERVICE_CATEGORIES = {
    "inference": "AI and Machine Learning",
    "training": "AI and Machine Learning",
    "monitoring": "AI and Machine Learning",
    "storage": "Storage",
    "platform": "Management and Governance",
}
FOCUS_UNITS = {
    "hour": "Hours",
    "requests": "Requests",
    "seconds": "Seconds",
    "GB-month": "GB-Months",
    "model-month": "Model-Months",
    "share": "Shares",
}
CHARGE_FREQUENCY = {"Usage": "Usage-Based", "Purchase": "Recurring", "Credit": "One-Time"}
# Amount columns hold plain numbers (negative for credits); every other cell is text, and text
# that a spreadsheet would run as a formula is quoted (``portal.core.downloads``).
FOCUS_AMOUNTS = frozenset(
    {
        "BilledCost",
        "ConsumedQuantity",
        "ContractedCost",
        "EffectiveCost",
        "ListCost",
        "PricingQuantity",
    }
)
CSV_COLUMNS = (
    "statement",
    "number",
    "tenant",
    "period",
    "state",
    *line_columns(model="model"),
    "currency",
)
CSV_AMOUNTS = frozenset({"quantity", "list_cost", "contracted_cost", "billed_cost", "amount"})


def plain(value: Decimal | None) -> str:
    """A decimal as digits (no exponent, no trailing zeros), or empty for null."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def cents(value: Decimal) -> str:
    return format(value.quantize(CENT, rounding=ROUND_HALF_UP), "f")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def statement_csv(statement: Statement, lines: Sequence[StatementLine]) -> bytes:
    """One row per line, with the unrounded billed cost beside the rounded amount."""
    rows = (
        (
            statement.pk,
            statement.number or "",
            statement.tenant.slug,
            statement.period.label,
            statement.state,
            line.position,
            line.kind,
            line.service,
            line.meter,
            line.deployment_id or "",
            line.resource_id,
            line.resource_name,
            line.model_name,
            line.model_version or "",
            line.instance_type,
            "yes" if line.correction else "no",
            line.description,
            plain(line.quantity),
            line.unit,
            plain(line.list_cost),
            plain(line.contracted_cost),
            plain(line.billed_cost),
            cents(line.amount),
            statement.currency,
        )
        for line in lines
    )
    return csv_bytes(CSV_COLUMNS, rows, numeric_columns=CSV_AMOUNTS)


def _charge_category(line: StatementLine) -> str:
    if line.kind == LineKind.CREDIT:
        return "Credit"
    if line.meter == Meter.PLATFORM_OVERHEAD:
        return "Purchase"
    return "Usage"


def _tags(statement: Statement, line: StatementLine) -> str:
    tags = {"portal-tenant": statement.tenant.slug}
    if statement.tenant.cost_center:
        tags["cost-center"] = statement.tenant.cost_center
    if line.model_name:
        tags["model"] = line.model_name
    return json.dumps(tags, sort_keys=True, separators=(",", ":"))


def _focus_row(statement: Statement, line: StatementLine) -> dict[str, str]:
    tenant, period = statement.tenant, statement.period
    start, end = month_start(period.month), month_start(next_month(period.month))
    category = _charge_category(line)
    quantity = line.quantity if category != "Credit" else None
    consumed = quantity if category == "Usage" else None
    issuer = settings.CHARGEBACK_ISSUER_NAME
    return {
        "BilledCost": cents(line.amount),
        "BillingAccountId": tenant.cost_center or f"tenant-{tenant.slug}",
        "BillingAccountName": f"{tenant.name} ({tenant.cost_center})"
        if tenant.cost_center
        else tenant.name,
        "BillingCurrency": statement.currency,
        "BillingPeriodEnd": iso(end),
        "BillingPeriodStart": iso(start),
        "ChargeCategory": category,
        "ChargeClass": "Correction" if line.correction else "",
        "ChargeDescription": line.description,
        "ChargeFrequency": CHARGE_FREQUENCY[category],
        "ChargePeriodEnd": iso(end),
        "ChargePeriodStart": iso(start),
        "ConsumedQuantity": plain(consumed),
        "ConsumedUnit": FOCUS_UNITS.get(line.unit, line.unit) if consumed is not None else "",
        "ContractedCost": cents(line.contracted_cost),
        "EffectiveCost": cents(line.amount),
        "InvoiceId": statement.number or "",
        "InvoiceIssuerName": issuer,
        "ListCost": cents(line.list_cost),
        "PricingQuantity": plain(quantity),
        "PricingUnit": FOCUS_UNITS.get(line.unit, line.unit) if quantity is not None else "",
        "ProviderName": issuer,
        "PublisherName": issuer,
        "ResourceId": line.resource_id,
        "ResourceName": line.resource_name,
        "ServiceCategory": SERVICE_CATEGORIES.get(line.service, "Other"),
        "ServiceName": SERVICE_NAMES.get(line.service, line.service),
        "SubAccountId": tenant.slug,
        "SubAccountName": tenant.name,
        "Tags": _tags(statement, line),
        "x_StatementId": str(statement.pk),
        "x_Meter": line.meter,
        "x_DeploymentId": str(line.deployment_id or ""),
        "x_ModelName": line.model_name,
        "x_ModelVersion": str(line.model_version or ""),
        "x_InstanceType": line.instance_type,
    }


def statement_focus(statement: Statement, lines: Sequence[StatementLine]) -> bytes:
    """FOCUS 1.2 rows, one per line; empty cells are nulls."""
    rows = (_focus_row(statement, line) for line in lines)
    return csv_bytes(
        FOCUS_COLUMNS,
        ([row[column] for column in FOCUS_COLUMNS] for row in rows),
        numeric_columns=FOCUS_AMOUNTS,
    )


# --- PDF --------------------------------------------------------------------------------------

STATE_WORDS = {
    "draft": "Draft",
    "in_review": "In review",
    "finalized": "Finalized",
    "void": "Void",
}


class _StatementPDF(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4", orientation="landscape")
        self.unicode = all(path.is_file() for path in UNICODE_FONT.values())
        if self.unicode:
            for style, path in UNICODE_FONT.items():
                self.add_font("DejaVu", style, str(path))
        self.face = "DejaVu" if self.unicode else "Helvetica"
        self.title_text = self.clean(title)
        self.set_auto_page_break(auto=True, margin=16)
        self.set_margins(left=14, top=14, right=14)

    def clean(self, text: str) -> str:
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def header(self) -> None:
        self.set_font(self.face, "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, self.title_text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.face, "", 8)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="C")


def _title(statement: Statement) -> str:
    number = statement.number or f"Statement {statement.pk} ({STATE_WORDS[statement.state]})"
    return f"{number} - {statement.tenant.name} - {statement.period.label}"


def statement_pdf(statement: Statement, lines: Sequence[StatementLine]) -> bytes:
    """An A4 landscape statement: header facts, one row per line, the total."""
    pdf = _StatementPDF(_title(statement))
    pdf.set_creation_date(statement.finalized_at or statement.created_at)
    pdf.set_title(_title(statement))
    pdf.set_creator("MLOps portal")
    pdf.add_page()
    pdf.set_font(pdf.face, "B", 15)
    pdf.cell(
        0,
        9,
        pdf.clean(f"Chargeback statement {statement.period.label}"),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(pdf.face, "", 10)
    tenant = statement.tenant
    facts = [
        f"Business unit: {tenant.name} ({tenant.slug})"
        + (f", cost center {tenant.cost_center}" if tenant.cost_center else ""),
        f"Statement: {statement.number or statement.pk}, {STATE_WORDS[statement.state]}",
        f"Issued by: {settings.CHARGEBACK_ISSUER_NAME}; rate card version "
        f"{statement.rate_card_version}; amounts in {statement.currency}, each line rounded "
        "half up to the cent.",
    ]
    if statement.void_reason:
        facts.append(f"Void: {statement.void_reason}")
    for fact in facts:
        pdf.multi_cell(0, 5, pdf.clean(fact), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font(pdf.face, "", 8)
    headings = ("#", "Service", "Resource", "Description", "Quantity", "List", "Amount")
    with pdf.table(
        col_widths=(6, 18, 42, 110, 24, 20, 22),
        text_align=("RIGHT", "LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=4.5,
        headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
    ) as table:
        table.row([pdf.clean(h) for h in headings])
        for line in lines:
            quantity = f"{line.quantity:.4f} {line.unit}" if line.quantity is not None else ""
            table.row(
                [
                    str(line.position),
                    pdf.clean(SERVICE_NAMES.get(line.service, line.service)),
                    pdf.clean(line.resource_name[:80]),
                    pdf.clean(line.description[:300]),
                    pdf.clean(quantity),
                    cents(line.list_cost),
                    cents(line.amount),
                ]
            )
    pdf.ln(3)
    pdf.set_font(pdf.face, "B", 11)
    pdf.cell(0, 7, pdf.clean(f"Total: {cents(statement.total)} {statement.currency}"), align="R")
    return bytes(pdf.output())
