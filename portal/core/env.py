"""Typed readers for environment variables.

Every setting the portal takes from the environment goes through one of these helpers, so a bad
value stops start-up with a sentence that names the variable and says what it expects, instead of
failing later somewhere unrelated.
"""

from __future__ import annotations

import builtins
import os
import secrets
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Env:
    """Reads variables from a mapping (``os.environ`` by default) with clear errors."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ: Mapping[builtins.str, builtins.str] = (
            os.environ if environ is None else environ
        )

    def _raw(self, name: builtins.str) -> builtins.str | None:
        value = self.environ.get(name)
        return None if value is None else value.strip()

    def is_set(self, name: builtins.str) -> bool:
        return bool(self._raw(name))

    def str(self, name: builtins.str, default: builtins.str = "") -> builtins.str:
        value = self._raw(name)
        return default if value is None or value == "" else value

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
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

    def int(
        self, name: builtins.str, default: builtins.int, *, minimum: builtins.int | None = None
    ) -> builtins.int:
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

    def float(
        self, name: builtins.str, default: builtins.float, *, minimum: builtins.float | None = None
    ) -> builtins.float:
        value = self._raw(name)
        if value is None or value == "":
            return default
        try:
            number = builtins.float(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be a number, got {value!r}.") from None
        if minimum is not None and number < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}.")
        return number

    def choice(
        self, name: builtins.str, default: builtins.str, *, choices: tuple[builtins.str, ...]
    ) -> builtins.str:
        value = self.str(name, default).lower()
        if value not in choices:
            allowed = ", ".join(choices)
            raise ImproperlyConfigured(f"{name} must be one of {allowed}; got {value!r}.")
        return value

    def list(
        self, name: builtins.str, default: builtins.list[builtins.str]
    ) -> builtins.list[builtins.str]:
        value = self._raw(name)
        if value is None or value == "":
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def int_map(
        self,
        name: builtins.str,
        default: Mapping[builtins.str, builtins.int],
        *,
        keys: tuple[builtins.str, ...],
        minimum: builtins.int | None = None,
    ) -> dict[builtins.str, builtins.int]:
        """``key=number`` pairs separated by commas (``high=190,minimal=30``) over ``default``."""
        value = self._raw(name)
        found = dict(default)
        expected = f"{name} must be key=number pairs separated by commas (keys: {', '.join(keys)})"
        for item in (value or "").split(","):
            if not item.strip():
                continue
            key, equals, number = (part.strip() for part in item.partition("="))
            if not equals or key.lower() not in keys:
                raise ImproperlyConfigured(f"{expected}; got {item.strip()!r}.")
            try:
                found[key.lower()] = int(number)
            except ValueError:
                raise ImproperlyConfigured(
                    f"{expected}; {key} must be a whole number, got {number!r}."
                ) from None
            if minimum is not None and found[key.lower()] < minimum:
                raise ImproperlyConfigured(
                    f"{name}: {key} must be at least {minimum}, got {number}."
                )
        return found

    def url(
        self, name: builtins.str, default: builtins.str, *, schemes: tuple[builtins.str, ...]
    ) -> builtins.str:
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

    def database(self, name: builtins.str, default: builtins.str) -> dict:
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
        return dict(config)


def private_key_file(
    path: os.PathLike[builtins.str] | builtins.str,
    make: Callable[[], builtins.str] = lambda: secrets.token_urlsafe(48),
) -> builtins.str:
    """The key kept in ``path``; made there by ``make`` on first use, readable by this user only."""
    path = os.fspath(path)
    if not os.path.exists(path):
        # Written aside and linked into place, so a process starting at the same time reads
        # either no file or the whole key, and the first to link wins.
        draft = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(make())
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    with open(path) as file:
        key = file.read().strip()
    if not key:
        raise ImproperlyConfigured(f"{path} is empty; delete it to generate a new key.")
    return key
