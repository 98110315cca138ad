"""Forms of the insights pages: the owner's checklist answers and the ROI inputs."""

from __future__ import annotations

from typing import Any

from django import forms

from portal.deployments.models import Environment
from portal.insights.maturity import Checklist
from portal.insights.models import RoiInputs
from portal.insights.roi import EDITABLE

YES_NO = [("yes", "Yes"), ("no", "No")]


class MaturityForm(forms.Form):
    """One yes/no radio group per question the portal leaves to the owner."""

    def __init__(self, *args: Any, checklist: Checklist, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for item in checklist.items:
            if item.answered_by != "owner":
                continue
            self.fields[item.id] = forms.ChoiceField(
                label=item.question.text,
                choices=YES_NO,
                widget=forms.RadioSelect,
                initial=None if item.answer is None else ("yes" if item.answer else "no"),
                error_messages={"required": "Answer yes or no."},
            )

    def answers(self) -> dict[str, bool]:
        return {name: value == "yes" for name, value in self.cleaned_data.items()}


class RoiInputsForm(forms.ModelForm):
    class Meta:
        model = RoiInputs
        fields = list(EDITABLE)
        labels = {
            "team_size": "Team size (data scientists and ML engineers)",
            "avg_salary": "Average salary per year",
            "weeks_to_production_before": "Weeks to production before the platform",
            "avg_incident_cost": "Average cost of an incident",
            "incident_reduction": "Share of incidents avoided (0 to 1)",
            "investment": "Platform investment per year",
            "models_per_year": "Models per year (used while nothing is measured)",
            "weeks_to_production_with_platform": "Weeks to production with the platform (used while nothing is measured)",
            "incidents_per_year": "Incidents per year (used while nothing is measured)",
        }

    def clean_incident_reduction(self) -> Any:
        value = self.cleaned_data["incident_reduction"]
        if value is not None and not 0 <= value <= 1:
            raise forms.ValidationError("Enter a share from 0 to 1, such as 0.75 for 75%.")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name, value in cleaned.items():
            if value is not None and value < 0:
                self.add_error(name, "This cannot be negative.")
        return cleaned


class KpiFilterForm(forms.Form):
    environment = forms.ChoiceField(
        required=False,
        choices=[*Environment.choices, ("all", "All environments")],
        initial=Environment.PRODUCTION,
    )
    months = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=[(6, "6 months"), (12, "12 months"), (24, "24 months")],
        initial=12,
    )
