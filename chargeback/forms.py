"""Forms of the cost, statement, finance and price pages. They check the shape of input; the
services judge it, and a service's refusal is put next to the field it concerns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from chargeback.services.close import parse_month
from portal.core.errors import InvalidRequest


class BudgetForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        label="Monthly budget",
        help_text="In the rate card's currency, cents at most.",
        error_messages={"invalid": "Write an amount such as 2500 or 2500.50."},
    )
    thresholds = forms.CharField(
        max_length=100,
        initial="50, 80, 100",
        label="Alert at (% of the budget)",
        help_text="Whole percentages separated by commas; owners get an email and a webhook once "
        "per threshold and month.",
    )

    def clean_thresholds(self) -> list[int]:
        parts = [p.strip().rstrip("%") for p in self.cleaned_data["thresholds"].split(",")]
        parts = [p for p in parts if p]
        if not parts or not all(p.isdecimal() for p in parts):
            raise forms.ValidationError(
                "Write whole percentages separated by commas, e.g. 50, 80, 100."
            )
        values = sorted({int(p) for p in parts})
        if len(values) > 10 or not all(1 <= v <= 1000 for v in values):
            raise forms.ValidationError("Give 1 to 10 percentages, each from 1 to 1000.")
        return values


class DisputeForm(forms.Form):
    comment = forms.CharField(
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="What is wrong with this line?",
        error_messages={"required": "Say what is wrong with the line, so finance can check it."},
    )


class VoidForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        label="Reason",
        error_messages={"required": "Say why the statement is void."},
    )


class CreditForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        label="Credit",
        error_messages={"invalid": "Write an amount such as 12.50."},
    )
    reason = forms.CharField(
        max_length=500,
        label="Reason",
        error_messages={"required": "Say why the credit is given."},
    )


class RejectForm(forms.Form):
    resolution = forms.CharField(
        max_length=4000,
        label="Why the line stands",
        error_messages={"required": "Say why the dispute is rejected."},
    )


class MonthField(forms.CharField):
    """A calendar month written YYYY-MM (kept as written, without surrounding spaces)."""

    widget = forms.TextInput(attrs={"placeholder": "YYYY-MM", "size": 8})

    def validate(self, value: str) -> None:
        super().validate(value)
        if value:
            try:
                parse_month(value)
            except InvalidRequest:
                raise forms.ValidationError("Write the month as YYYY-MM, e.g. 2026-10.") from None


class MonthCloseForm(forms.Form):
    """The month to close; its ids (``close-month``) stay apart from the statement filter's."""

    month = MonthField(
        label="Month to close",
        max_length=32,
        help_text="YYYY-MM; the month must have ended. Closing meters it to its end, rates it and "
        "writes one draft statement per unit.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "close-%s")
        super().__init__(*args, **kwargs)
