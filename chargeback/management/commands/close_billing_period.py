"""close_billing_period [--period YYYY-MM]: meter a month to its end and close it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from chargeback.services.close import (
    billing_period_close,
    month_to_close,
    period_statements,
)
from chargeback.services.metering import metering_run, month_start, next_month
from portal.core.audit import Actor
from portal.core.errors import PortalError


class Command(BaseCommand):
    help = (
        "Close a billing month (default: the previous one): record its remaining usage, rate "
        "it and draft one statement per tenant. Running it again prints the same statements."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--period", metavar="YYYY-MM", help="The month to close.")
        parser.add_argument(
            "--no-metering",
            action="store_true",
            help="Close with the usage already recorded (skip the portal's own meters).",
        )

    def handle(self, *args, period: str | None = None, no_metering: bool = False, **options):
        try:
            month = month_to_close(period, now=timezone.now())
            if not no_metering:
                metering_run(until=month_start(next_month(month)))
            closed = billing_period_close(month=month, actor=Actor.system("close_billing_period"))
        except PortalError as error:
            raise CommandError(error.detail) from None
        statements = list(period_statements(closed))
        self.stdout.write(
            self.style.SUCCESS(f"{closed.label}: {closed.state}, {len(statements)} statement(s)")
        )
        for statement in statements:
            self.stdout.write(
                f"  {statement.tenant.slug:<40} {statement.state:<10} "
                f"{statement.total:>14} {statement.currency}  (statement {statement.pk})"
            )
