"""refresh_prices [--source NAME ...]: refresh the price catalog now, one line per source."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from chargeback.services.prices import prices_refresh_all
from portal.core.errors import InvalidRequest


class Command(BaseCommand):
    help = (
        "Refresh price sources now: every enabled one, or those named with --source "
        "(builtin, aws-sagemaker, azure-ml, ...). Exits 1 when a source failed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--source", action="append", dest="sources", metavar="NAME")

    def handle(self, *args, sources: list[str] | None = None, **options) -> None:
        try:
            results = prices_refresh_all(names=sources)
        except InvalidRequest as error:
            raise CommandError(error.detail) from None
        for result in results:
            style = self.style.ERROR if result.outcome == "failed" else self.style.SUCCESS
            self.stdout.write(style(result.sentence()))
        if any(result.outcome == "failed" for result in results):
            raise CommandError("Some price sources failed; the prices in force were kept.")
