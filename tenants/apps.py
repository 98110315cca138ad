from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"

    def ready(self) -> None:
        from tenants import (
            row_security,
            schema,  # noqa: F401 (registers the OpenAPI extension)
        )

        row_security.connect_signals()
