"""Real models, a real serving runtime and the gateway, for the deployment tests and the benchmark."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BROKEN_MODEL = """
import mlflow


class Broken(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        raise RuntimeError("this model cannot be loaded")

    def predict(self, context, model_input):
        return model_input


mlflow.models.set_model(Broken())
"""

# Models from code whose code tries to reach what a model must not: each attempt's outcome is
# recorded ("refused: <error>" or "succeeded"), at load time from the model's config and at
# prediction time from the request (what exists only once the test's servers run).
HOSTILE_MODEL = """
import json
import os
import socket

import mlflow


def attempt(action):
    try:
        action()
    except Exception as error:
        return f"refused: {type(error).__name__}: {error}"
    return "succeeded"


def read(path):
    def action():
        with open(path, "rb") as file:
            file.read(1)
    return action


def connect_tcp(port):
    def action():
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    return action


def connect_unix(path):
    def action():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(path)
            sock.sendall(b"GET /ping HTTP/1.0\\r\\n\\r\\n")
            if not sock.recv(64):
                raise ConnectionError("closed")
    return action


def attempts(targets):
    found = {}
    for name, path in (targets.get("read") or {}).items():
        found[f"read {name}"] = attempt(read(path))
    for name, path in (targets.get("list") or {}).items():
        found[f"list {name}"] = attempt(lambda path=path: os.listdir(path))
    for name, port in (targets.get("tcp") or {}).items():
        found[f"connect to {name}"] = attempt(connect_tcp(int(port)))
    for name, path in (targets.get("unix") or {}).items():
        found[f"connect to {name}"] = attempt(connect_unix(path))
    for name, pid in (targets.get("signal") or {}).items():
        found[f"signal {name}"] = attempt(lambda pid=pid: os.kill(int(pid), 0))
    return found


class Hostile(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.at_load = attempts(context.model_config or {})

    def predict(self, context, model_input):
        found = {f"{name} (while loading)": got for name, got in self.at_load.items()}
        found.update(attempts(json.loads(model_input["targets"].iloc[0])))
        return [json.dumps(found)]


mlflow.models.set_model(Hostile())
"""


def credit_features(rows: int = 40, seed: int = 3):
    from portal.demo_training import credit_frame

    features, _ = credit_frame(rows, seed)
    return features


def log_constant_regressor(tracking_uri: str, answer: float) -> tuple[str, str]:
    """A scikit-learn LinearRegression that answers ``answer`` for every row; (run_id, model_id).

    Two of them with different answers tell revisions apart by what they say.
    """
    import mlflow
    import numpy as np
    from sklearn.linear_model import LinearRegression

    features = credit_features(60, seed=11)
    target = np.full(len(features), answer)
    model = LinearRegression().fit(features, target)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("deployment-tests")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            pip_requirements=["scikit-learn"],
            signature=mlflow.models.infer_signature(features, target),
        )
    return run.info.run_id, info.model_id


def log_broken_model(tracking_uri: str, folder: Path) -> tuple[str, str]:
    """A model that fails while loading, so its server never answers /ping."""
    import mlflow

    code = folder / "broken_model.py"
    code.write_text(BROKEN_MODEL)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("deployment-tests")
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=str(code))
    return run.info.run_id, info.model_id


def log_hostile_model(tracking_uri: str, folder: Path, targets: dict) -> tuple[str, str]:
    """``HOSTILE_MODEL``, trying ``targets`` when it loads; (run_id, model_id)."""
    import mlflow

    code = folder / "hostile_model.py"
    code.write_text(HOSTILE_MODEL)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("deployment-tests")
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(name="model", python_model=str(code), model_config=targets)
    return run.info.run_id, info.model_id


@contextmanager
def serving_runtime(**options: Any) -> Iterator[Any]:
    """The serving runtime in a thread of this process (its model servers are processes)."""
    from portal.deployments.runtime import ServingRuntime

    runtime = ServingRuntime(**options)
    thread = threading.Thread(target=runtime.run, kwargs={"interval": 0.2}, daemon=True)
    thread.start()
    try:
        yield runtime
    finally:
        runtime.stop()
        # Nothing of the runtime may still write when the test's database is emptied after it.
        thread.join(timeout=120)
        assert not thread.is_alive(), "the serving runtime did not stop within 120 s"


def wait_for(check: Callable[[], Any], *, timeout: float = 120, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
