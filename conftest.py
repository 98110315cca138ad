"""Shared test personas and backend detection.

The company every test can use: two business units, Acme Retail ("a") and Bravo Marketing ("b"),
with an owner, an engineer and a viewer in A, an owner and an engineer in B, and the platform
people: two governance leads, finance and a platform admin. Bob of B has no access to A's things.
``tests.builders`` builds them; tests import builders from there, never from a conftest.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from rest_framework.test import APIClient

from tenants.row_security import grant_app_role
from tests.builders import Company, make_company


def _redis_reachable() -> bool:
    if not settings.REDIS_URL:
        return False
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


def pytest_report_header(config: pytest.Config) -> list[str]:
    if settings.USING_POSTGRES:
        database = (
            f"database: PostgreSQL at {settings.DATABASES['default'].get('HOST') or 'local socket'}"
        )
    else:
        database = (
            "database: SQLite; tests that need PostgreSQL are SKIPPED "
            "(start PostgreSQL on 127.0.0.1:5432 or set DATABASE_URL to run them)"
        )
    redis = "redis: " + (
        settings.REDIS_URL if _redis_reachable() else "not reachable; Redis tests are SKIPPED"
    )
    return [database, redis]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CI") == "true" and not settings.USING_POSTGRES:
        raise pytest.UsageError(
            "CI runs the suite on PostgreSQL; DATABASE_URL does not point at one."
        )
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL; this run uses SQLite")
    skip_redis = pytest.mark.skip(reason="needs a reachable Redis (REDIS_URL)")
    redis_ok = _redis_reachable()
    for item in items:
        if "postgres" in item.keywords and not settings.USING_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not redis_ok:
            item.add_marker(skip_redis)


# --- The database: created and migrated by the tables' owner, used as the application's role ------

_CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")
_app_credentials: dict[str, object] = {}


def _connect_default_as(credentials: dict) -> None:
    connection = connections["default"]
    connection.close()
    connection.settings_dict.update({key: credentials.get(key) for key in _CREDENTIALS})


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """With DATABASE_MIGRATE_URL, the owner creates and migrates the test database."""
    if settings.DATABASE_MIGRATE is not None:
        default = connections["default"].settings_dict
        _app_credentials.update({key: default.get(key) for key in _CREDENTIALS})
        _connect_default_as(settings.DATABASE_MIGRATE)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Then the tests connect as the application's role, which row-level security holds."""
    if not _app_credentials:
        yield
        return
    with django_db_blocker.unblock():
        # TRUNCATE for the flush after transactional tests; the application never gets it.
        grant_app_role(connections["default"], str(_app_credentials["USER"]), truncate=True)
    _connect_default_as(_app_credentials)
    yield
    _connect_default_as(settings.DATABASE_MIGRATE)  # the owner drops the test database


@pytest.fixture(autouse=True)
def _own_audit_anchors(settings, tmp_path):
    # Each test anchors its own chains: anchors of another test's database would not match.
    settings.AUDIT_ANCHOR_URI = str(tmp_path / "audit-anchors")


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The production hasher is slow by design; tests check behaviour, not its cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def company(db) -> Company:
    return make_company()


@pytest.fixture
def eager_celery():
    """Tasks run in-process when enqueued (for tests of what enqueues them, not of the worker)."""
    from portal.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


@pytest.fixture
def api() -> APIClient:
    return APIClient()


# --- MLflow ---------------------------------------------------------------------------------------


@dataclass
class MlflowFixture:
    url: str
    run_id: str
    model_id: str

    @property
    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)

    def register(self, name: str, *, tenant: str | None, versions: int = 1) -> None:
        """A registered model with ``versions`` versions of the session's logged model."""
        client = self.client
        client.create_registered_model(name, tags={"portal.tenant": tenant} if tenant else {})
        for _ in range(versions):
            client.create_model_version(
                name, source=f"models:/{self.model_id}", run_id=self.run_id, model_id=self.model_id
            )


@pytest.fixture(scope="session")
def mlflow_session(tmp_path_factory):
    from portal.demo_training import log_demo_model
    from tests.mlflow_server import MlflowServer

    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    try:
        run_id, info = log_demo_model(server.url, experiment="portal-tests")
        yield MlflowFixture(url=server.url, run_id=run_id, model_id=info.model_id)
    finally:
        server.stop()


@pytest.fixture
def mlflow_server(mlflow_session, settings):
    """The session's MLflow server, with every registered model removed after the test."""
    settings.MLFLOW_TRACKING_URI = mlflow_session.url
    yield mlflow_session
    client = mlflow_session.client
    for model in client.search_registered_models(max_results=1000):
        client.delete_registered_model(model.name)
