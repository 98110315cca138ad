from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "portal.deployments"
    label = "deployments"
    verbose_name = "Deployments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Deployments enqueue their tasks by registered name (``deployment_transition``), so the
        # task module is loaded in every process, not only in workers; it needs the models.
        from portal.deployments import tasks  # noqa: F401
