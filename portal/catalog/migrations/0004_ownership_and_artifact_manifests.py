"""Ownership records and artifact manifests, which arrived side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_model_ownership_and_catalog_jobs"),
        ("catalog", "0003_version_artifact_manifest_and_tampering"),
    ]

    operations = []
