from django.apps import AppConfig

from portal.core.audit import audit_writer_register


class GovernanceConfig(AppConfig):
    name = "governance"

    def ready(self) -> None:
        # The audit trail's writer reads governance's models, which load before ready().
        from governance.audit import audit_chain_append

        audit_writer_register(audit_chain_append)
