from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "portal.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The evidence pack is governance's; the decision logs it carries are monitoring's.
        from governance.evidence_sections import evidence_section_register
        from portal.monitoring.evidence import evidence_decision_logs

        evidence_section_register("decision_logs", evidence_decision_logs)

        # The receiver reads the models of several apps, which load before ready().
        from portal.deployments.signals import revision_live
        from portal.monitoring.receivers import monitor_live_revision

        revision_live.connect(monitor_live_revision, dispatch_uid="monitoring.revision_live")
