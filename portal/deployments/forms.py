"""Forms of the deployment pages. They check the shape of input; ``deployment_request`` judges it."""

from __future__ import annotations

from typing import Any

from django import forms

from portal.catalog.models import ModelVersion
from portal.deployments.models import Environment, Target
from portal.deployments.services import ENDPOINT_NAME


class DeploymentRequestForm(forms.Form):
    """What a person asks for; ``clean`` finds the model version in the unit's catalog."""

    model = forms.CharField(
        max_length=256,
        label="Model",
        widget=forms.TextInput(attrs={"list": "model-names", "autocomplete": "off"}),
    )
    version = forms.IntegerField(min_value=1, label="Version")
    environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.STAGING)
    target = forms.ChoiceField(choices=Target.choices, initial=Target.LOCAL)
    instance_type = forms.CharField(
        max_length=64,
        initial="cpu.small",
        label="Instance type",
        widget=forms.TextInput(attrs={"list": "instance-types", "autocomplete": "off"}),
    )
    replicas = forms.IntegerField(min_value=1, max_value=50, initial=1)
    canary_weight = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=99,
        label="Canary weight (%)",
        help_text="Leave empty to give the new revision all the traffic once it is healthy.",
    )
    shadow = forms.BooleanField(
        required=False,
        label="Shadow revision",
        help_text="Gets a copy of the traffic; its answers are captured, never returned.",
    )
    name = forms.CharField(
        required=False,
        max_length=63,
        label="Endpoint name",
        help_text="By default <model>-<environment>. An existing endpoint's name makes this "
        "request its next revision.",
    )
    drift_monitor = forms.BooleanField(
        required=False,
        initial=True,
        label="Monitor drift",
        help_text="Compare this deployment's traffic with the version's training data.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data.get("name", "").strip()
        if name and not ENDPOINT_NAME.match(name):
            raise forms.ValidationError(
                "Use lower-case letters, digits and hyphens (at most 63), "
                "starting and ending with a letter or digit."
            )
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("shadow") and data.get("canary_weight") is not None:
            self.add_error(
                "canary_weight",
                "A shadow revision gets a copy of all traffic; leave the canary weight empty.",
            )
        name, number = data.get("model"), data.get("version")
        if name and number:
            version = (
                ModelVersion.objects.select_related("model")
                .filter(model__name=name, version=number)
                .first()
            )
            if version is not None:
                data["model_version"] = version
            elif ModelVersion.objects.filter(model__name=name).exists():
                self.add_error("version", f"'{name}' has no version {number} in the catalog.")
            else:
                self.add_error("model", f"There is no model named '{name}' in this unit's catalog.")
        return data


class RollbackForm(forms.Form):
    confirm = forms.BooleanField(
        label="I understand that the endpoint's traffic moves back to the earlier revision.",
        error_messages={"required": "Tick the box to confirm the rollback."},
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Reason",
        help_text="Why, for the audit trail.",
        widget=forms.TextInput(),
    )
