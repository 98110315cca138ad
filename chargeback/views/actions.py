"""Finance's actions on a statement from a page: review, finalize, void with a reason, settle a
dispute with a credit note or reject it. Shared by the review queue and the statement page.

An action either succeeds (a sentence to show) or fails with what went wrong, attached to the
form field it concerns so the page can say it next to that field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.http import Http404, HttpRequest

from chargeback.forms import CreditForm, RejectForm, VoidForm
from chargeback.models import LineDispute, Statement
from chargeback.services.statements import (
    credit_issue,
    dispute_reject,
    statement_finalize,
    statement_label,
    statement_review,
    statement_void,
)
from portal.core.audit import Actor
from portal.core.errors import PortalError
from tenants.scoping import tenant_scope

FINANCE_ACTIONS = ("review", "finalize", "void", "credit", "reject")


@dataclass
class Failure:
    """An action that did not happen: on which row, and what to say next to which field."""

    action: str
    target: int
    errors: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)


def _failure(action: str, target: int, form, detail: str = "", field_name: str = "") -> Failure:
    errors = {name: [str(e) for e in errs] for name, errs in (form.errors if form else {}).items()}
    if detail:
        errors.setdefault(field_name or "general", []).append(detail)
    values = {name: str(value) for name, value in (form.data.items() if form else [])}
    return Failure(action=action, target=target, errors=errors, values=values)


def _dispute(request: HttpRequest, statement: Statement) -> LineDispute:
    raw = request.POST.get("dispute", "")
    dispute = (
        LineDispute.objects.filter(pk=int(raw), line__statement=statement)
        .select_related("line")
        .first()
        if raw.isdecimal() and len(raw) < 12
        else None
    )
    if dispute is None:
        raise Http404("No such dispute on this statement.")
    return dispute


def finance_act(request: HttpRequest, statement: Statement) -> tuple[str, Failure | None]:
    """Run the finance action posted for ``statement``; (message, None) or ("", failure)."""
    action = request.POST.get("action", "")
    actor = Actor.user(request.user)
    with tenant_scope(statement.tenant_id):
        if action == "review":
            try:
                statement_review(actor=actor, statement=statement)
            except PortalError as problem:
                return "", _failure(action, statement.pk, None, problem.detail)
            return f"{statement_label(statement).capitalize()} is in review.", None
        if action == "finalize":
            try:
                done = statement_finalize(actor=actor, statement=statement)
            except PortalError as problem:
                return "", _failure(action, statement.pk, None, problem.detail)
            return (
                f"Finalized: {done.tenant.name}'s {done.period.label} statement is {done.number}.",
                None,
            )
        if action == "void":
            form = VoidForm(request.POST)
            if not form.is_valid():
                return "", _failure(action, statement.pk, form)
            try:
                statement_void(actor=actor, statement=statement, reason=form.cleaned_data["reason"])
            except PortalError as problem:
                return "", _failure(action, statement.pk, form, problem.detail, "reason")
            return f"{statement_label(statement).capitalize()} is void.", None
        dispute = _dispute(request, statement)
        if action == "credit":
            credit = CreditForm(request.POST)
            if not credit.is_valid():
                return "", _failure(action, dispute.pk, credit)
            amount: Decimal = credit.cleaned_data["amount"]
            try:
                note = credit_issue(
                    actor=actor,
                    statement=statement,
                    amount=amount,
                    reason=credit.cleaned_data["reason"],
                    dispute=dispute,
                )
            except PortalError as problem:
                target = (
                    "amount" if "amount" in problem.detail or "exceed" in problem.detail else ""
                )
                return "", _failure(action, dispute.pk, credit, problem.detail, target)
            return (
                f"Credit note {note.pk} of {note.amount} {statement.currency} settles the dispute; "
                "it appears on the unit's next statement.",
                None,
            )
        reject = RejectForm(request.POST)
        if not reject.is_valid():
            return "", _failure(action, dispute.pk, reject)
        try:
            dispute_reject(
                actor=actor, dispute=dispute, resolution=reject.cleaned_data["resolution"]
            )
        except PortalError as problem:
            return "", _failure(action, dispute.pk, reject, problem.detail, "resolution")
        return "The dispute is rejected; the unit sees why.", None
