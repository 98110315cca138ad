import pytest


@pytest.fixture(autouse=True)
def _fresh_gateway():
    """Each test starts with no cached routes or tokens and an empty capture buffer."""
    from portal.deployments.gateway import routes
    from portal.deployments.gateway.recorder import recorder

    routes.forget()
    recorder().reset()
    yield
    routes.forget()
    recorder().reset()
