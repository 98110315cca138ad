"""Typed readers for environment variables.

Every setting the portal takes from the environment goes through one of these helpers, so a bad
value stops start-up with a sentence that names the variable and says what it expects, instead of
failing later somewhere unrelated.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Env:
    """Reads variables from a mapping (``os.environ`` by default) with clear errors."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def _raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        return None if value is None else value.strip()

    def is_set(self, name: str) -> bool:
        return bool(self._raw(name))

    def str(self, name: str, default: str = "") -> str:
        value = self._raw(name)
        return default if value is None or value == "" else value

    def bool(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ImproperlyConfigured(
            f"{name} must be true or false (1/0, yes/no, on/off), got {value!r}."
        )

    def int(self, name: str, default: int, *, minimum: int | None = None) -> int:
        value = self._raw(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}.") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}.")
        return number

    def list(self, name: str, default: list[str]) -> list[str]:
        value = self._raw(name)
        if value is None or value == "":
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def url(self, name: str, default: str, *, schemes: tuple[str, ...]) -> str:
        value = self.str(name, default)
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            allowed = ", ".join(f"{s}://" for s in schemes)
            raise ImproperlyConfigured(
                f"{name} must be a URL starting with {allowed}; got {value!r}."
            )
        if parts.scheme in {"http", "https", "redis", "rediss"} and not parts.hostname:
            raise ImproperlyConfigured(f"{name} must name a host, got {value!r}.")
        return value

    def database(self, name: str, default: str) -> dict:
        import dj_database_url

        value = self.str(name, default)
        scheme = urlsplit(value).scheme
        if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
            raise ImproperlyConfigured(
                f"{name} must be a sqlite:/// or postgres:// URL, got {value!r}."
            )
        try:
            config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
        except ValueError as error:
            raise ImproperlyConfigured(f"{name} could not be read: {error}") from None
        if scheme != "sqlite" and not config.get("NAME"):
            raise ImproperlyConfigured(f"{name} must name a database, got {value!r}.")
        return config
