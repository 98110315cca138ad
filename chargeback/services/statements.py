"""Finance review of statements, line disputes and credit notes; every change audited.

    draft ----review----> in_review ----finalize----> finalized (numbered CB-<year>-<0001>)
      |  \\__________________finalize_______________/^
      +--void (reason)--> void <--void (reason)-- in_review

A finalized or void statement never changes: any action on it is a 409. Tenant owners dispute a
line with a comment (on any statement that is not void); finance settles a dispute with a credit
note, or rejects it. A credit note appears on the tenant's next statement as a negative line.
Each action locks its statement row and writes one audit event on the tenant's chain in the
same transaction. Callers run inside the statement's tenant scope.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from chargeback.models import (
    CreditNote,
    DisputeState,
    LineDispute,
    LineKind,
    Statement,
    StatementLine,
    StatementSequence,
    StatementState,
)
from portal.core.audit import Actor, audit_record
from portal.core.errors import Conflict, InvalidRequest

FROZEN = (StatementState.FINALIZED, StatementState.VOID)
CENT = Decimal("0.01")


def statement_label(statement: Statement) -> str:
    return statement.number or f"statement {statement.pk} ({statement.period.label})"


def _locked(statement: Statement) -> Statement:
    return Statement.objects.select_for_update().select_related("period").get(pk=statement.pk)


def _refuse_frozen(statement: Statement, doing: str) -> None:
    if statement.state in FROZEN:
        raise Conflict(
            f"{statement_label(statement).capitalize()} is {statement.state} and never changes; "
            f"it cannot be {doing}. Corrections go on a credit note."
        )


def _record(actor: Actor, statement: Statement, action: str, before: str, **after: Any) -> None:
    audit_record(
        actor=actor,
        action=action,
        object_type="statement",
        object_id=statement.pk,
        tenant_id=statement.tenant_id,
        before={"state": before},
        after={"state": statement.state, **after},
    )


@transaction.atomic
def statement_review(*, actor: Actor, statement: Statement) -> Statement:
    """Put a draft in review."""
    statement = _locked(statement)
    _refuse_frozen(statement, "put in review")
    if statement.state != StatementState.DRAFT:
        raise Conflict(f"{statement_label(statement).capitalize()} is already in review.")
    before, statement.state = statement.state, StatementState.IN_REVIEW
    statement.state_changed_at = timezone.now()
    statement.save(update_fields=["state", "state_changed_at"])
    _record(actor, statement, "statement.in_review", before)
    return statement


def _next_number(year: int) -> str:
    StatementSequence.objects.get_or_create(year=year)
    sequence = StatementSequence.objects.select_for_update().get(year=year)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return f"CB-{year}-{sequence.last:04d}"


@transaction.atomic
def statement_finalize(*, actor: Actor, statement: Statement) -> Statement:
    """Number the statement and freeze it."""
    statement = _locked(statement)
    _refuse_frozen(statement, "finalized again")
    now = timezone.now()
    before = statement.state
    statement.state = StatementState.FINALIZED
    statement.number = _next_number(now.year)
    statement.finalized_at = statement.state_changed_at = now
    statement.finalized_by_label = actor.label[:150]
    statement.save(
        update_fields=["state", "number", "finalized_at", "state_changed_at", "finalized_by_label"]
    )
    _record(
        actor,
        statement,
        "statement.finalized",
        before,
        number=statement.number,
        total=str(statement.total),
    )
    return statement


@transaction.atomic
def statement_void(*, actor: Actor, statement: Statement, reason: str) -> Statement:
    """Void a draft or a statement in review, saying why."""
    if not reason.strip():
        raise InvalidRequest("Say why the statement is void (reason).")
    statement = _locked(statement)
    _refuse_frozen(statement, "voided")
    before = statement.state
    statement.state = StatementState.VOID
    statement.void_reason = reason.strip()[:500]
    statement.state_changed_at = timezone.now()
    statement.save(update_fields=["state", "void_reason", "state_changed_at"])
    _record(actor, statement, "statement.voided", before, reason=statement.void_reason)
    return statement


@transaction.atomic
def line_dispute(*, actor: Actor, user: Any, line: StatementLine, comment: str) -> LineDispute:
    """A tenant owner objects to a line; finance answers with a credit note or a rejection."""
    if not comment.strip():
        raise InvalidRequest("Say what is wrong with the line (comment).")
    statement = _locked(line.statement)
    if statement.state == StatementState.VOID:
        raise Conflict(
            f"{statement_label(statement).capitalize()} is void; there is nothing to dispute."
        )
    if line.kind == LineKind.CREDIT:
        raise InvalidRequest("A credit note line cannot be disputed.")
    if LineDispute.objects.filter(line=line, state=DisputeState.OPEN).exists():
        raise Conflict("This line already has an open dispute.")
    dispute = LineDispute.objects.create(
        tenant_id=line.tenant_id,
        line=line,
        comment=comment.strip(),
        raised_by=user,
        raised_by_label=actor.label[:150],
    )
    audit_record(
        actor=actor,
        action="statement.line_disputed",
        object_type="line_dispute",
        object_id=dispute.pk,
        tenant_id=line.tenant_id,
        after={"statement": statement.pk, "line": line.pk, "comment": dispute.comment},
    )
    return dispute


def _credited(line: StatementLine) -> Decimal:
    return CreditNote.objects.filter(statement_line=line).aggregate(sum=Sum("amount"))[
        "sum"
    ] or Decimal(0)


@transaction.atomic
def credit_issue(
    *,
    actor: Actor,
    statement: Statement,
    amount: Decimal,
    reason: str,
    line: StatementLine | None = None,
    dispute: LineDispute | None = None,
) -> CreditNote:
    """Give ``amount`` back on ``statement`` (for one line, settling its dispute if given)."""
    statement = _locked(statement)
    if statement.state == StatementState.VOID:
        raise Conflict(f"{statement_label(statement).capitalize()} is void; nothing to credit.")
    if not reason.strip():
        raise InvalidRequest("Say why the credit is given (reason).")
    if amount <= 0 or amount != amount.quantize(CENT):
        raise InvalidRequest("amount must be above 0, in cents (e.g. 12.50).")
    if dispute is not None:
        dispute = LineDispute.objects.select_for_update().get(pk=dispute.pk)
        if dispute.state != DisputeState.OPEN:
            raise Conflict(f"Dispute {dispute.pk} is already {dispute.state}.")
        line = dispute.line
    if line is not None:
        if line.statement_id != statement.pk:
            raise InvalidRequest(f"Line {line.pk} is not on this statement.")
        if _credited(line) + amount > line.amount:
            raise InvalidRequest(
                f"The credits on line {line.pk} would exceed its amount of {line.amount}."
            )
    elif amount > statement.total:
        raise InvalidRequest(f"The credit exceeds the statement's total of {statement.total}.")
    credit = CreditNote.objects.create(
        tenant_id=statement.tenant_id,
        statement=statement,
        statement_line=line,
        amount=amount,
        reason=reason.strip()[:500],
        issued_by_label=actor.label[:150],
    )
    if dispute is not None:
        dispute.state = DisputeState.SETTLED
        dispute.credit_note = credit
        dispute.resolution = credit.reason
        dispute.resolved_by_label = actor.label[:150]
        dispute.resolved_at = timezone.now()
        dispute.save()
    audit_record(
        actor=actor,
        action="statement.credited",
        object_type="credit_note",
        object_id=credit.pk,
        tenant_id=statement.tenant_id,
        after={
            "statement": statement.pk,
            "line": line.pk if line else None,
            "dispute": dispute.pk if dispute else None,
            "amount": str(amount),
            "reason": credit.reason,
        },
    )
    return credit


@transaction.atomic
def dispute_reject(*, actor: Actor, dispute: LineDispute, resolution: str) -> LineDispute:
    """Finance keeps the line as it is and says why."""
    if not resolution.strip():
        raise InvalidRequest("Say why the dispute is rejected (resolution).")
    dispute = LineDispute.objects.select_for_update().get(pk=dispute.pk)
    if dispute.state != DisputeState.OPEN:
        raise Conflict(f"Dispute {dispute.pk} is already {dispute.state}.")
    dispute.state = DisputeState.REJECTED
    dispute.resolution = resolution.strip()
    dispute.resolved_by_label = actor.label[:150]
    dispute.resolved_at = timezone.now()
    dispute.save()
    audit_record(
        actor=actor,
        action="statement.dispute_rejected",
        object_type="line_dispute",
        object_id=dispute.pk,
        tenant_id=dispute.tenant_id,
        before={"state": DisputeState.OPEN},
        after={"state": dispute.state, "resolution": dispute.resolution},
    )
    return dispute
