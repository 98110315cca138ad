"""Create (or complete) the demo company. Running it again changes nothing."""

from django.core.management.base import BaseCommand

from portal import demo


class Command(BaseCommand):
    help = "Create the demo company: two business units and a person for every role. Idempotent."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-models", action="store_true", help="Skip the MLflow models.")
        parser.add_argument(
            "--webhook-url", default="", help="Where MLflow should send registry webhooks."
        )

    def handle(self, *args, no_models: bool = False, webhook_url: str = "", **options) -> None:
        people = demo.seed_people_and_tenants()
        if not no_models:
            for line in demo.seed_models(webhook_url=webhook_url):
                self.stdout.write(line)
            for step in (demo.seed_governance, demo.seed_monitoring, demo.seed_bills):
                for line in step():
                    self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("Demo company ready. Sign in with any of these:"))
        for person in people:
            self.stdout.write(f"  {person.username:<8} {demo.DEMO_PASSWORD}   {person.description}")
