"""Sync the catalog from MLflow now, for every tenant or one."""

from django.core.management.base import BaseCommand, CommandError

from portal.catalog import sync
from portal.catalog.mlflow_adapter import MlflowUnavailable
from tenants.models import Tenant
from tenants.scoping import tenant_scope


class Command(BaseCommand):
    help = "Sync registered models from MLflow: sync_mlflow [--tenant SLUG] [--deep]"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="Only this tenant (a slug).")
        parser.add_argument("--deep", action="store_true", help="Re-read every model's versions.")

    def handle(self, *args, tenant: str | None = None, deep: bool = False, **options) -> None:
        tenants = Tenant.objects.filter(active=True)
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"There is no active tenant '{tenant}'.")
        failed = False
        for each in tenants:
            with tenant_scope(each):
                try:
                    run = sync.registry_sync(tenant=each, trigger="command", deep=deep)
                except MlflowUnavailable as error:
                    self.stderr.write(f"{each.slug}: failed: {error.detail}")
                    failed = True
                    continue
            if run is None:
                self.stdout.write(f"{each.slug}: another sync is running; skipped")
            else:
                self.stdout.write(
                    f"{each.slug}: {run.models_seen} models, {run.models_changed} changed, "
                    f"{run.versions_created} new versions, {run.models_gone} gone"
                )
        if not tenant:
            try:
                self.stdout.write(f"unassigned models: {sync.unassigned_scan()}")
            except MlflowUnavailable as error:
                self.stderr.write(f"unassigned scan failed: {error.detail}")
                failed = True
        if failed:
            raise CommandError(
                "MLflow could not be reached for every sync; see above.", returncode=1
            )
