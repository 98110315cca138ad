"""Forms of the governance pages. They check the shape of input; the services judge it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from governance.classification import QUESTIONS
from governance.models import (
    Environment,
    IncidentSeverity,
    IncidentStatus,
    Verdict,
)
from governance.services.cards import COMPLETENESS_ITEMS, TEXT_FIELDS
from portal.catalog.models import RegisteredModel
from tenants.models import PlatformRole, Tenant, User

YES_NO = [("yes", "Yes"), ("no", "No")]
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class DecisionForm(forms.Form):
    verdict = forms.ChoiceField(choices=Verdict.choices)
    comment = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to reject or to ask for changes: say what the unit should change.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        verdict = data.get("verdict")
        if verdict and verdict != Verdict.APPROVE and not data.get("comment", "").strip():
            self.add_error("comment", "Say why, so the unit knows what to change.")
        return data


class PolicyPublishForm(forms.Form):
    document = forms.CharField(
        strip=False,
        widget=forms.Textarea(attrs={"rows": 28, "spellcheck": "false", "class": "code"}),
        label="Policy document (YAML)",
    )
    note = forms.CharField(
        required=False, max_length=500, help_text="What changed and why, for the version history."
    )


class PolicyDryRunForm(forms.Form):
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), to_field_name="slug", empty_label=None, label="Unit"
    )
    model = forms.CharField(max_length=256, label="Model name")
    version = forms.IntegerField(min_value=1, label="Version")
    environment = forms.ChoiceField(choices=Environment.choices)

    def __init__(self, *args: Any, tenants: QuerySet[Tenant], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenants.order_by("name")  # type: ignore[attr-defined]


class ClassificationForm(forms.Form):
    """The EU AI Act questionnaire: one field per question of ``governance.classification``."""

    def __init__(self, *args: Any, answers: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for question in QUESTIONS:
            field: forms.Field
            if question.choices:
                field = forms.ChoiceField(choices=list(question.choices.items()))
            else:
                field = forms.TypedChoiceField(
                    choices=YES_NO, coerce=lambda value: value == "yes", widget=forms.RadioSelect
                )
            field.label, field.help_text = question.text, question.help
            self.fields[question.key] = field
            if answers and question.key in answers:
                value = answers[question.key]
                self.initial[question.key] = (
                    ("yes" if value else "no") if isinstance(value, bool) else value
                )

    def answers(self) -> dict[str, Any]:
        return {question.key: self.cleaned_data[question.key] for question in QUESTIONS}


CARD_LABELS = dict(COMPLETENESS_ITEMS)


class ModelCardForm(forms.Form):
    """The card's editable text, one field per ``governance.services.cards.TEXT_FIELDS``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in TEXT_FIELDS:
            label = CARD_LABELS.get(name, name.replace("_", " ").capitalize())
            if name == "owner":
                self.fields[name] = forms.CharField(required=False, max_length=150, label=label)
            else:
                self.fields[name] = forms.CharField(
                    required=False,
                    max_length=10000,
                    label=label,
                    widget=forms.Textarea(attrs={"rows": 3}),
                )


class CardReviewForm(forms.Form):
    comment = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Review comment",
        help_text="When returning the card, say what to fix.",
    )


class IncidentOpenForm(forms.Form):
    title = forms.CharField(max_length=200, help_text="What is wrong, in one line.")
    severity = forms.ChoiceField(choices=IncidentSeverity.choices, initial=IncidentSeverity.SEV3)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    model: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None,
        required=False,
        to_field_name="name",
        empty_label="no particular model",
        label="Model (optional)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set here, not on the class: the catalog's manager needs the request's tenant scope.
        self.fields["model"].queryset = RegisteredModel.objects.order_by("name")  # type: ignore[attr-defined]


class IncidentNoteForm(forms.Form):
    text = forms.CharField(
        max_length=10000, widget=forms.Textarea(attrs={"rows": 3}), label="Add to the timeline"
    )


class IncidentChangeForm(forms.Form):
    status = forms.ChoiceField(choices=IncidentStatus.choices)
    severity = forms.ChoiceField(choices=IncidentSeverity.choices)
    resolution = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Needed to resolve: what was done, and what prevents it happening again.",
    )


class DelegationForm(forms.Form):
    delegate: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None,
        to_field_name="username",
        empty_label="choose a governance lead",
        help_text="Another governance lead, who receives your approval reminders meanwhile.",
    )
    starts_at = forms.DateTimeField(
        required=False,
        label="From (UTC)",
        help_text="Now if left empty.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    ends_at = forms.DateTimeField(
        label="Until (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    note = forms.CharField(required=False, max_length=500, label="Note (optional)")

    def __init__(self, *args: Any, lead: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["delegate"].queryset = (  # type: ignore[attr-defined]
            User.objects.filter(platform_role=PlatformRole.GOVERNANCE_LEAD, is_active=True)
            .exclude(pk=lead.pk)
            .order_by("username")
        )
