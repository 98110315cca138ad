"""The inference gateway as a process of its own: ``gunicorn portal.gateway_wsgi``.

It answers ``/serve/...`` (through the gateway's lean handler) and ``/healthz``, and nothing else,
so predictions never wait behind pages in one worker pool, nor pages behind predictions.
``portal.wsgi`` still serves ``/serve/`` too, for ``make run`` and a single-process setup;
docker-compose runs both and the proxy in front sends ``/serve/`` here (deploy/nginx/portal.conf).
"""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup(set_prefix=False)

from portal.deployments.gateway.handler import GATEWAY_PREFIX, GatewayHandler  # noqa: E402

HEALTH_PATH = "/healthz"
_gateway = GatewayHandler()
_ELSEWHERE = json.dumps(
    {
        "code": "not_found",
        "detail": f"This process serves predictions only, under {GATEWAY_PREFIX}.",
    }
).encode()


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith(GATEWAY_PREFIX) or path == HEALTH_PATH:
        return _gateway(environ, start_response)
    start_response(
        "404 Not Found",
        [("Content-Type", "application/json"), ("Content-Length", str(len(_ELSEWHERE)))],
    )
    return [_ELSEWHERE]
