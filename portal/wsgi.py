import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
_portal = get_wsgi_application()

from portal.deployments.gateway.handler import GATEWAY_PREFIX, GatewayHandler  # noqa: E402

_gateway = GatewayHandler()


def application(environ, start_response):
    """The portal; predictions under ``/serve/`` take the gateway's lean handler."""
    if environ.get("PATH_INFO", "").startswith(GATEWAY_PREFIX):
        return _gateway(environ, start_response)
    return _portal(environ, start_response)
