from django import forms

from tenants.models import TokenScope


class TokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. 'CI pipeline'.")
    scopes = forms.MultipleChoiceField(
        choices=TokenScope.choices, widget=forms.CheckboxSelectMultiple, initial=["read"]
    )
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=366, initial=90, label="Expires in (days)"
    )
