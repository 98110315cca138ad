"""Create a business unit."""

from django.core.management.base import BaseCommand, CommandError

from portal.core.audit import Actor
from portal.core.errors import PortalError
from tenants import services


class Command(BaseCommand):
    help = "Create a tenant (a business unit): create_tenant <slug> <name> [--cost-center CODE]"

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("name")
        parser.add_argument("--cost-center", default="")

    def handle(self, *args, slug: str, name: str, cost_center: str, **options) -> None:
        from django.core.exceptions import ValidationError

        try:
            tenant = services.tenant_create(
                actor=Actor.system("manage.py create_tenant"),
                slug=slug,
                name=name,
                cost_center=cost_center,
            )
        except PortalError as error:
            raise CommandError(error.detail) from None
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from None
        self.stdout.write(self.style.SUCCESS(f"Created tenant {tenant.slug} ({tenant.name})."))
