from django.apps import AppConfig

from portal.catalog.signals import version_files_changed


class DeploymentsConfig(AppConfig):
    name = "portal.deployments"
    label = "deployments"
    verbose_name = "Deployments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The workflow reads the models of several apps, which load before ready().
        from portal.deployments.workflow import on_version_files_changed

        version_files_changed.connect(
            on_version_files_changed, dispatch_uid="deployments.version_tampered"
        )
