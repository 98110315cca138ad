"""The month close: rate the month's usage and draft one statement per tenant.

``billing_period_close`` is locked (a PostgreSQL advisory lock per month; a second close of the
same month meanwhile gets a 409) and idempotent: a closed month returns the statements it has,
and a close that stopped half-way continues where it stopped. Steps:

1. the month turns ``closing`` (its row locked): from then on, usage that arrives for it is
   charged in the next open month as a correction, and the rate card version is fixed;
2. the month's usage is summed in one GROUP BY and rated into charges (one transaction);
3. tenants get their draft statement in batches, each batch one transaction, and the month's
   ``processed`` count moves after each one; credit notes not yet on a statement become
   negative lines on this one;
4. the month turns ``closed``, with one audit event on the platform chain that lists every
   drafted statement (id, tenant, total); later changes of a statement are audited on its
   tenant's chain.

Lines are rounded once each, to the cent, half up; a statement's total is the sum of its lines.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from chargeback.models import (
    BillingPeriod,
    Charge,
    CreditNote,
    LineKind,
    Meter,
    PeriodState,
    RateCard,
    Statement,
    StatementLine,
)
from chargeback.services.bulk import insert_new
from chargeback.services.metering import month_of
from chargeback.services.rate_cards import rate_card_defaults, rate_card_in_force
from chargeback.services.rating import PLATFORM_SERVICE, period_rate
from portal.core import outbox
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict, InvalidRequest
from tenants.models import Tenant

CENT = Decimal("0.01")
TENANTS_PER_BATCH = 25
LOCK_NAMESPACE = 7_301  # pg_advisory_lock(namespace, yyyymm): the month close
SERVICE_ORDER = {"inference": 0, "monitoring": 1, "storage": 2, "training": 3, PLATFORM_SERVICE: 4}
METER_ORDER = {meter: position for position, meter in enumerate(Meter.values)}
METER_UNIT_WORDS = {
    "hour": "h",
    "requests": "requests",
    "seconds": "s",
    "GB-month": "GB-months",
    "model-month": "model-months",
    "share": "share",
}
# ASCII digits: Python's ``\d`` takes any Unicode digit, the schema's (ECMA) ``\d`` does not.
MONTH_PATTERN = r"^[0-9]{4}-[0-9]{2}$"
MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


def to_cent(amount: Decimal) -> Decimal:
    """The one rounding of a statement line: to the cent, half up."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_month(label: str) -> date:
    match = MONTH.match(label.strip())
    if not match or int(match.group(1)) < 1 or not 1 <= int(match.group(2)) <= 12:
        raise InvalidRequest(f"'{label}' is not a month; write it as YYYY-MM, e.g. 2026-10.")
    return date(int(match.group(1)), int(match.group(2)), 1)


def previous_month(now: datetime) -> date:
    this = month_of(now)
    return date(this.year - (this.month == 1), (this.month - 2) % 12 + 1, 1)


def month_to_close(label: str | None, *, now: datetime) -> date:
    """The month a close is for (``YYYY-MM``, or none for the previous month), refused until it
    has ended: callers meter usage up to the month's end first, and must not meter hours to come."""
    month = parse_month(label) if label else previous_month(now)
    _require_ended(month, now)
    return month


def _require_ended(month: date, now: datetime) -> None:
    if month >= month_of(now):
        raise InvalidRequest(
            f"{month:%Y-%m} has not ended yet; it can be closed from the 1st of the next month."
        )


def period_statements(period: BillingPeriod) -> QuerySet[Statement]:
    """The statements of a month, every tenant's (the close and finance see them all)."""
    return (
        Statement.objects.dangerously_across_tenants()
        .filter(period=period)
        .select_related("tenant", "period")
        .order_by("tenant__slug")
    )


@contextmanager
def _close_lock(month: date) -> Iterator[None]:
    if connection.vendor != "postgresql":
        yield  # SQLite: one writer at a time already; the month's state guards the rest
        return
    key = month.year * 100 + month.month
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, key])
        if not cursor.fetchone()[0]:
            raise Conflict(
                f"The close of {month:%Y-%m} is already running; follow it on "
                "GET /api/v1/billing-periods/."
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, key])


def _begin(month: date, now: datetime) -> BillingPeriod:
    with transaction.atomic():
        BillingPeriod.objects.get_or_create(month=month)
        period = BillingPeriod.objects.select_for_update().get(month=month)
        if period.state == PeriodState.OPEN:
            period.state = PeriodState.CLOSING
            period.started_at = now
            period.rate_card_version = rate_card_in_force().version
        period.last_error = ""
        period.save()
    return period


def _card(version: int | None) -> RateCard:
    if not version:
        return rate_card_defaults()
    return RateCard.objects.get(version=version)


def _rate_once(period: BillingPeriod, card: RateCard) -> None:
    with transaction.atomic():
        # Charges are written in one transaction: if any exist, all of them do.
        if not Charge.objects.dangerously_across_tenants().filter(period=period).exists():
            period_rate(period=period, card=card)


def _description(charge: Charge) -> str:
    unit = METER_UNIT_WORDS.get(charge.unit, charge.unit)
    if charge.meter == Meter.PLATFORM_OVERHEAD:
        text = f"{charge.resource_name}: {charge.quantity:.4%} of {charge.list_unit_price} a month"
    else:
        text = f"{Meter(charge.meter).label}, {charge.resource_name}"
        if charge.instance_type:
            text += f", {charge.instance_type}"
        text += f": {charge.quantity.normalize():f} {unit}"
        if charge.list_unit_price is None and charge.meter == Meter.DEPLOYMENT_HOURS:
            text += " (no list price for this instance type)"
    if charge.correction:
        text += " (late usage of an earlier month)"
    return text[:300]


def _usage_line(charge: Charge) -> StatementLine:
    return StatementLine(
        tenant_id=charge.tenant_id,
        kind=LineKind.OVERHEAD if charge.meter == Meter.PLATFORM_OVERHEAD else LineKind.USAGE,
        service=charge.service,
        meter=charge.meter,
        charge=charge,
        deployment_id=charge.deployment_id,
        resource_id=charge.resource_id,
        resource_name=charge.resource_name,
        instance_type=charge.instance_type,
        model_name=charge.model_name,
        model_version=charge.model_version,
        correction=charge.correction,
        description=_description(charge),
        quantity=charge.quantity,
        unit=charge.unit,
        list_cost=charge.list_cost,
        contracted_cost=charge.contracted_cost,
        billed_cost=charge.billed_cost,
        amount=to_cent(charge.billed_cost),
    )


def _credit_line(credit: CreditNote) -> StatementLine:
    origin = credit.statement
    named = origin.number or f"the {origin.period.label} statement"
    minus = -credit.amount
    return StatementLine(
        tenant_id=credit.tenant_id,
        kind=LineKind.CREDIT,
        service=(credit.statement_line.service if credit.statement_line else PLATFORM_SERVICE),
        credit_note=credit,
        correction=True,
        resource_id=f"credit-note/{credit.pk}",
        resource_name=f"Credit note {credit.pk}",
        description=f"Credit note {credit.pk} on {named}: {credit.reason}"[:300],
        list_cost=minus,
        contracted_cost=minus,
        billed_cost=minus,
        amount=minus,
    )


def _line_order(line: StatementLine) -> tuple:
    return (
        line.kind == LineKind.CREDIT,
        SERVICE_ORDER.get(line.service, 9),
        line.deployment_id or 0,
        line.resource_name,
        line.resource_id,
        METER_ORDER.get(line.meter, 99),
        line.correction,
    )


def _draft_batch(
    period: BillingPeriod, card: RateCard, tenant_ids: list[int], actor: Actor
) -> None:
    charges: dict[int, list[Charge]] = defaultdict(list)
    for charge in Charge.objects.dangerously_across_tenants().filter(
        period=period, tenant_id__in=tenant_ids
    ):
        charges[charge.tenant_id].append(charge)
    credits: dict[int, list[CreditNote]] = defaultdict(list)
    pending = (
        CreditNote.objects.dangerously_across_tenants()
        .filter(tenant_id__in=tenant_ids, applied_to__isnull=True)
        .exclude(statement__period=period)
        .select_related("statement__period", "statement_line")
        .select_for_update(of=("self",))
    )
    for credit in pending:
        credits[credit.tenant_id].append(credit)

    statements, lines_of = [], {}
    for tenant_id in tenant_ids:
        lines = sorted(
            [_usage_line(c) for c in charges[tenant_id]]
            + [_credit_line(c) for c in credits[tenant_id]],
            key=_line_order,
        )
        for position, line in enumerate(lines, start=1):
            line.position = position
        statement = Statement(
            tenant_id=tenant_id,
            period=period,
            currency=card.currency,
            rate_card_version=card.version,
            total=sum((line.amount for line in lines), Decimal("0.00")),
        )
        statements.append(statement)
        lines_of[tenant_id] = lines
    insert_new(Statement, statements)
    every_line = []
    for statement in statements:
        for line in lines_of[statement.tenant_id]:
            line.statement = statement
            every_line.append(line)
    insert_new(StatementLine, every_line)
    applied = []
    for statement in statements:
        for credit in credits[statement.tenant_id]:
            credit.applied_to = statement
            applied.append(credit)
    if applied:
        CreditNote.objects.dangerously_across_tenants().bulk_update(applied, ["applied_to"])


def _statement_tenants(period: BillingPeriod) -> list[int]:
    with_charges = Charge.objects.dangerously_across_tenants().filter(period=period)
    with_credits = CreditNote.objects.dangerously_across_tenants().filter(applied_to__isnull=True)
    tenants = set(Tenant.objects.filter(active=True).values_list("pk", flat=True))
    tenants |= set(with_charges.values_list("tenant_id", flat=True).distinct())
    tenants |= set(with_credits.values_list("tenant_id", flat=True).distinct())
    return sorted(tenants)


def _draft_statements(period: BillingPeriod, card: RateCard, actor: Actor) -> None:
    tenant_ids = _statement_tenants(period)
    done = set(
        Statement.objects.dangerously_across_tenants()
        .filter(period=period)
        .values_list("tenant_id", flat=True)
    )
    todo = [tenant_id for tenant_id in tenant_ids if tenant_id not in done]
    processed = len(tenant_ids) - len(todo)
    BillingPeriod.objects.filter(pk=period.pk).update(total=len(tenant_ids), processed=processed)
    for offset in range(0, len(todo), TENANTS_PER_BATCH):
        batch = todo[offset : offset + TENANTS_PER_BATCH]
        with transaction.atomic():
            _draft_batch(period, card, batch, actor)
            processed += len(batch)
            BillingPeriod.objects.filter(pk=period.pk).update(processed=processed)


def _finish(period: BillingPeriod, actor: Actor, now: datetime) -> BillingPeriod:
    with transaction.atomic():
        period = BillingPeriod.objects.select_for_update().get(pk=period.pk)
        drafted = list(
            period_statements(period).values_list("pk", "tenant__slug", "total").order_by("pk")
        )
        period.state = PeriodState.CLOSED
        period.closed_at = now
        period.processed = period.total
        period.save()
        audit_record(
            actor=actor,
            action="billing_period.closed",
            object_type="billing_period",
            object_id=period.label,
            tenant_id=None,
            after={
                "rate_card_version": period.rate_card_version,
                "total": str(sum((total for _, _, total in drafted), Decimal("0.00"))),
                "statements": [
                    {"id": pk, "tenant": slug, "state": "draft", "total": str(total)}
                    for pk, slug, total in drafted
                ],
            },
        )
    return period


def billing_period_close_queue(*, actor: Actor, label: str | None) -> date:
    """Ask a worker to close a month (``YYYY-MM``, or none for the previous one), as the API and
    finance's page do: refused here when the month has not ended, and who asked is on the
    platform audit chain (the close itself runs, and is recorded, as the system)."""
    month = month_to_close(label, now=timezone.now())
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="billing_period.close_queued",
            object_type="billing_period",
            object_id=f"{month:%Y-%m}",
            tenant_id=None,
        )
        outbox.enqueue_on_commit("chargeback.close_billing_period", period=f"{month:%Y-%m}")
    return month


def billing_period_close(
    *, month: date, actor: Actor, now: datetime | None = None
) -> BillingPeriod:
    """Close ``month``: its statements afterwards are ``period_statements(period)``."""
    now = now or timezone.now()
    _require_ended(month, now)
    with _close_lock(month):
        period = _begin(month, now)
        if period.state == PeriodState.CLOSED:
            return period
        try:
            card = _card(period.rate_card_version)
            _rate_once(period, card)
            _draft_statements(period, card, actor)
            return _finish(period, actor, now)
        except Exception as error:
            BillingPeriod.objects.filter(pk=period.pk).update(
                last_error=f"{type(error).__name__}: {error}"[:2000]
            )
            raise
