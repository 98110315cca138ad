"""A model server's ASGI app: MLflow's own scoring app behind the gateway's per-server secret.

The serving runtime starts it inside the model server's sandbox as
``uvicorn --uds <socket> --factory scoring_guard:create_app`` (the sandbox sees only this folder of
the portal's code, so it imports nothing from the portal), with the model's folder in
``PORTAL_MODEL_PATH`` and the server's secret in ``PORTAL_SERVING_SECRET``; the app is the one
``mlflow models serve`` runs (``scoring_server.init`` on the loaded model). Every HTTP request must carry that secret in the
``X-Portal-Serving-Secret`` header, compared in constant time; without it the answer is a 403 and
the model is never called. Only the gateway and the runtime hold the secret, so nothing else on
the machine (another unit's model server included) can call this model.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

# Names of where the secret travels, not secrets.
SECRET_HEADER = "X-Portal-Serving-Secret"  # noqa: S105
SECRET_ENV = "PORTAL_SERVING_SECRET"  # noqa: S105
MODEL_ENV = "PORTAL_MODEL_PATH"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_REFUSAL = json.dumps(
    {
        "error_code": "PERMISSION_DENIED",
        "message": "This model server answers only the portal's gateway.",
    }
).encode()


def guard(app: App, secret: str) -> App:
    """``app`` for requests that present ``secret``; a 403 for any other."""
    if not secret:
        raise ValueError("A model server needs a secret.")
    expected = secret.encode()
    header = SECRET_HEADER.lower().encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            presented = b""
            for name, value in scope.get("headers") or ():
                if name == header:
                    presented = value
                    break
            if not hmac.compare_digest(presented, expected):
                if scope["type"] == "http":
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 403,
                            "headers": [
                                (b"content-type", b"application/json"),
                                (b"content-length", str(len(_REFUSAL)).encode()),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": _REFUSAL})
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
        await app(scope, receive, send)

    return guarded


def create_app() -> App:
    """MLflow's scoring app on the model in ``PORTAL_MODEL_PATH``, guarded."""
    # Read before the model loads, and gone from the environment the model's code sees.
    secret = os.environ.pop(SECRET_ENV, "")
    if not secret:
        raise RuntimeError(f"{SECRET_ENV} is not set; the model server refuses to start.")
    from mlflow.pyfunc import scoring_server

    model = scoring_server.load_model_with_mlflow_config(os.environ[MODEL_ENV])
    return guard(scoring_server.init(model), secret)
