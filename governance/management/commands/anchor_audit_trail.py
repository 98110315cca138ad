"""Write today's signed anchor of every audit chain to AUDIT_ANCHOR_URI (what beat does hourly)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from governance.anchors import anchor_store, audit_anchor_heads


class Command(BaseCommand):
    help = (
        "Anchor the audit trail outside the database: write today's signed head of every chain "
        "to AUDIT_ANCHOR_URI."
    )

    def handle(self, *args, **options) -> None:
        written = audit_anchor_heads()
        self.stdout.write(f"Anchored {written} audit chain(s) in {anchor_store()}.")
