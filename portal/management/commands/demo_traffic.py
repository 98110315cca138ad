"""Send the demo churn endpoint shifted traffic through the gateway, then run its drift monitor."""

from django.core.management.base import BaseCommand

from portal import demo


class Command(BaseCommand):
    help = (
        "Wait until the demo churn endpoint is live, send it shifted traffic through the gateway "
        "at --url, and run its drift monitor. Does nothing once the endpoint has traffic."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="The portal's address.")
        parser.add_argument("--timeout", type=float, default=300.0, help="Seconds to wait (300).")

    def handle(self, *args, url: str, timeout: float, **options) -> None:
        for line in demo.send_demo_traffic(url, timeout=timeout):
            self.stdout.write(line)
