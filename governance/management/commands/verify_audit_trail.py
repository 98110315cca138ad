"""Verify the audit trail: every seal, chain head and anchor; exit 0 when intact, 1 naming the
first event that does not match."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from governance.audit import audit_verify
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Verify the tamper-evident audit trail. Exits 1 and names the first broken sequence number."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--tenant", help="Verify only this tenant's chain (a slug, or 'platform')."
        )

    def handle(self, *args, tenant: str | None = None, **options) -> None:
        tenant_ids: list[int | None] | None = None
        if tenant == "platform":
            tenant_ids = [None]
        elif tenant:
            found = Tenant.objects.filter(slug=tenant).first()
            if found is None:
                raise CommandError(f"There is no tenant '{tenant}'.")
            tenant_ids = [found.pk]
        reports = audit_verify(tenant_ids=tenant_ids)
        broken = [report for report in reports if not report.ok]
        for report in reports:
            if report.ok:
                self.stdout.write(f"{report.chain}: intact ({report.events_checked} events)")
            else:
                self.stdout.write(
                    f"{report.chain}: BROKEN at sequence {report.first_broken_sequence}: {report.reason}"
                )
        if broken:
            raise CommandError(
                f"The audit trail is broken in {len(broken)} chain(s); first broken event: "
                f"{broken[0].chain} sequence {broken[0].first_broken_sequence}.",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(f"All {len(reports)} audit chain(s) are intact."))
