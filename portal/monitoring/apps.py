from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "portal.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The receiver reads the models of several apps, which load before ready().
        from portal.deployments.signals import revision_live
        from portal.monitoring.receivers import monitor_live_revision

        revision_live.connect(monitor_live_revision, dispatch_uid="monitoring.revision_live")
