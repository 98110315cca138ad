"""Serializer fields the API shares."""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false`` and nothing else: DRF's own field also reads 1, 0, "yes", "on" and
    "n" as booleans, which the schema does not allow and a client would not mean. The strings
    "true" and "false" still come through, as HTML forms send them."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and data.lower() in {"true", "false"}:
            return data.lower() == "true"
        self.fail("invalid", input=data)
        raise AssertionError("unreachable")  # fail() raises


class StrictDecimalField(serializers.DecimalField):
    """A decimal written as a JSON string (``"12.50"``), as the schema says. DRF's own field also
    takes a JSON number, whose exact value a client's floating point may already have changed
    (``0.1 + 0.2``); an amount that must add up to the cent is refused in that form."""

    default_error_messages = {
        "not_a_string": 'Write the amount as a string, such as "12.50": a JSON number may '
        "already have lost its exact value."
    }

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


# For ModelSerializers: a model's BooleanField and DecimalField become the strict ones.
STRICT_FIELD_MAPPING = {
    **serializers.ModelSerializer.serializer_field_mapping,
    models.BooleanField: StrictBooleanField,
    models.DecimalField: StrictDecimalField,
}
