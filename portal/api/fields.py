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


# For ModelSerializers: a model's BooleanField becomes a StrictBooleanField.
STRICT_FIELD_MAPPING = {
    **serializers.ModelSerializer.serializer_field_mapping,
    models.BooleanField: StrictBooleanField,
}
