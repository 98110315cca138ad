"""``manage.py run_serving``: the local serving runtime (one model server per live revision)."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from portal.deployments.runtime import ServingRuntime
from portal.deployments.sandbox import SandboxUnavailable


class Command(BaseCommand):
    help = (
        "Run the local serving runtime: start, health-check and restart a model server for every "
        "live revision on the local target, and stop those no longer wanted."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between two looks (default 1)."
        )
        parser.add_argument(
            "--workers", type=int, default=None, help="Workers per model server (SERVING_WORKERS)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            runtime = ServingRuntime(workers=options["workers"])
        except SandboxUnavailable as error:
            raise CommandError(f"The serving runtime does not start: {error}") from error
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: runtime.stop())
        self.stdout.write("Serving runtime running; Ctrl-C stops it and its model servers.")
        runtime.run(interval=options["interval"])
