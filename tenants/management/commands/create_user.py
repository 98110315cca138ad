"""Create a person, optionally with a tenant role or a platform role."""

import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.core.audit import Actor
from portal.core.errors import PortalError
from tenants import services
from tenants.models import PlatformRole, Tenant, TenantRole, User
from tenants.scoping import tenant_scope


class Command(BaseCommand):
    help = (
        "Create a user: create_user <username> [--email E] [--password P] "
        "[--tenant SLUG --role viewer|engineer|owner] [--platform-role governance_lead|finance|platform_admin]. "
        "Without --password a random one is printed once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--password", default=None)
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--tenant", help="A tenant slug to add the user to.")
        parser.add_argument("--role", choices=TenantRole.values, help="Their role in --tenant.")
        parser.add_argument("--platform-role", choices=PlatformRole.values, default="")

    def handle(self, *args, **options) -> None:
        if bool(options["tenant"]) != bool(options["role"]):
            raise CommandError("--tenant and --role go together.")
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"There is no tenant '{options['tenant']}'.")
        if User.objects.filter(username=options["username"]).exists():
            raise CommandError(f"A user '{options['username']}' already exists.")
        password = options["password"] or secrets.token_urlsafe(12)
        user = User(
            username=options["username"],
            email=options["email"],
            first_name=options["first_name"],
            last_name=options["last_name"],
        )
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        actor = Actor.system("manage.py create_user")
        try:
            with transaction.atomic():
                user.set_password(password)
                user.save()
                if options["platform_role"]:
                    services.user_set_platform_role(
                        actor=actor, user=user, platform_role=options["platform_role"]
                    )
                if tenant is not None:
                    with tenant_scope(tenant):
                        services.membership_add(
                            actor=actor, tenant=tenant, user=user, role=options["role"]
                        )
        except PortalError as error:
            raise CommandError(error.detail) from None
        self.stdout.write(self.style.SUCCESS(f"Created user {user.username}."))
        if not options["password"]:
            self.stdout.write(f"Password (shown once): {password}")
