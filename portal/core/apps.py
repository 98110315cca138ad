from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel as a Django app: it owns the task outbox. Its label is ``portal``, under which
    the outbox's table and migrations were made."""

    name = "portal.core"
    label = "portal"
    verbose_name = "Portal"
