"""Create a service token for a tenant and print its secret once."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from portal.core.audit import Actor
from portal.core.errors import PortalError
from tenants import services
from tenants.models import Tenant, TokenScope
from tenants.scoping import tenant_scope


class Command(BaseCommand):
    help = "Create a service token: create_token <tenant> <name> --scopes read,write [--expires-days 90]"

    def add_arguments(self, parser) -> None:
        parser.add_argument("tenant")
        parser.add_argument("name")
        parser.add_argument(
            "--scopes", default="read", help=f"Comma-separated: {', '.join(TokenScope.values)}"
        )
        parser.add_argument("--expires-days", type=int, default=90)

    def handle(
        self, *args, tenant: str, name: str, scopes: str, expires_days: int, **options
    ) -> None:
        found = Tenant.objects.filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"There is no tenant '{tenant}'.")
        try:
            with tenant_scope(found):
                token, secret = services.token_create(
                    actor=Actor.system("manage.py create_token"),
                    tenant=found,
                    name=name,
                    scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                    expires_at=timezone.now() + timedelta(days=expires_days),
                    created_by=None,
                )
        except PortalError as error:
            raise CommandError(error.detail) from None
        self.stderr.write(
            f"Created token {token.name} ({token.prefix}) for {found.slug}; it is shown once:"
        )
        self.stdout.write(secret)
