"""Point MLflow's registry webhook at the portal: point_mlflow_webhook --url URL."""

from django.core.management.base import BaseCommand, CommandError

from portal.catalog.services import mlflow_webhook_point
from portal.core.audit import Actor
from portal.core.errors import PortalError


class Command(BaseCommand):
    help = (
        "Create or update MLflow's registry webhook for the portal (MLflow 3.3+, SQL backend), "
        "signed with MLFLOW_WEBHOOK_SECRET: point_mlflow_webhook --url "
        "https://portal.example.com/api/v1/webhooks/mlflow/"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--url",
            required=True,
            help="The portal's receiver as MLflow reaches it, ending /api/v1/webhooks/mlflow/.",
        )

    def handle(self, *args, url: str, **options) -> None:
        try:
            done = mlflow_webhook_point(actor=Actor.system("point_mlflow_webhook"), url=url)
        except PortalError as error:
            raise CommandError(
                f"MLflow's webhook was not pointed at {url}: {error.detail}"
            ) from error
        self.stdout.write(f"MLflow webhook {done}: {url}")
