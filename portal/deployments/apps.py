from django.apps import AppConfig

from governance.signals import model_recertified, recertification_lapsed
from portal.catalog.signals import version_files_changed


class DeploymentsConfig(AppConfig):
    name = "portal.deployments"
    label = "deployments"
    verbose_name = "Deployments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The workflow reads the models of several apps, which load before ready().
        from portal.deployments.workflow import on_version_files_changed
        from portal.deployments.workflow.suspending import (
            on_model_recertified,
            on_recertification_lapsed,
        )

        version_files_changed.connect(
            on_version_files_changed, dispatch_uid="deployments.version_tampered"
        )
        recertification_lapsed.connect(
            on_recertification_lapsed, dispatch_uid="deployments.recertification_lapsed"
        )
        model_recertified.connect(on_model_recertified, dispatch_uid="deployments.recertified")
