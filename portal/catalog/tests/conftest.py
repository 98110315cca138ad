import pytest


@pytest.fixture
def eager_celery():
    """Tasks run in-process when enqueued (for tests of what enqueues them, not of the worker)."""
    from portal.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False
