"""Create (or complete) the demo company. Running it again changes nothing."""

from django.core.management.base import BaseCommand

from portal import demo


class Command(BaseCommand):
    help = "Create the demo company: two business units and a person for every role. Idempotent."

    def handle(self, *args, **options) -> None:
        people = demo.seed_people_and_tenants()
        self.stdout.write(self.style.SUCCESS("Demo company ready. Sign in with any of these:"))
        for person in people:
            self.stdout.write(f"  {person.username:<8} {demo.DEMO_PASSWORD}   {person.description}")
