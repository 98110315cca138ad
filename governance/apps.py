from django.apps import AppConfig

from portal.catalog.signals import version_manifest_found
from portal.core.audit import audit_writer_register


class GovernanceConfig(AppConfig):
    name = "governance"

    def ready(self) -> None:
        # These read governance's models, which load before ready().
        from governance.audit import audit_chain_append
        from governance.services.artifacts import on_version_manifest_found

        audit_writer_register(audit_chain_append)
        version_manifest_found.connect(
            on_version_manifest_found, dispatch_uid="governance.version_manifest_recorded"
        )
