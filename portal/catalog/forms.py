from django import forms
from django.db.models import QuerySet

from tenants.models import Tenant


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
