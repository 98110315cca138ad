from django import forms
from django.db.models import QuerySet

from tenants.models import Tenant


class CatalogSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(attrs={"placeholder": "name or description"}),
    )
    tag = forms.CharField(
        required=False,
        label="Tag",
        widget=forms.TextInput(attrs={"placeholder": "key or key=value"}),
    )
    owner = forms.CharField(required=False)
    alias = forms.CharField(required=False)
    status = forms.ChoiceField(
        required=False, choices=[("", "any"), ("active", "in MLflow"), ("gone", "gone from MLflow")]
    )
    risk_tier = forms.ChoiceField(
        required=False,
        label="Risk tier",
        choices=[
            ("", "any"),
            ("high", "high"),
            ("limited", "limited"),
            ("minimal", "minimal"),
            ("prohibited", "prohibited"),
            ("unclassified", "not classified yet"),
        ],
    )
    ordering = forms.ChoiceField(
        required=False,
        choices=[
            ("name", "name A-Z"),
            ("-name", "name Z-A"),
            ("-updated", "recently updated"),
            ("updated", "least recently updated"),
        ],
    )


class UnassignedSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        max_length=256,
        widget=forms.TextInput(attrs={"placeholder": "name, tag key or value"}),
    )


class ModelMetadataForm(forms.Form):
    owner = forms.CharField(
        required=False, max_length=150, help_text="The person accountable for the model."
    )
    use_case = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000
    )
    intended_use = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    limitations = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )


def assignable_units() -> QuerySet[Tenant]:
    """The units a model can be assigned to: the active ones, by name."""
    return Tenant.objects.filter(active=True).order_by("name")


class AssignForm(forms.Form):
    tenant: forms.ModelChoiceField = forms.ModelChoiceField(
        queryset=None, empty_label="choose a unit"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = assignable_units()
