from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project as a Django app: its management commands and its tasks. It has no models."""

    name = "portal"
    label = "project"
    verbose_name = "Portal project"
