"""docker-compose.yml runs every process the portal needs, each with a command that exists, and the
Dockerfile installs what those commands call; read from the files, no Docker needed.

The services README.md lists under "Running with docker compose" are the compose file's services.
A service built from the portal's image runs ``python manage.py <command>`` (a management
command the portal has), ``gunicorn <module>`` (a module that imports, with its WSGI app),
``celery -A <app> worker|beat`` (a Celery app), or a script the image holds. The folders the
settings expect to be shared between containers (the model servers' sockets and secrets, the
capture store) are volumes mounted where every container that uses them looks for them.
"""

from __future__ import annotations

import importlib
import re
import shlex
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from celery import Celery
from django.core.management import get_commands
from django.urls import resolve

ROOT = Path(__file__).resolve().parent.parent
PORTAL_IMAGE = "."  # the build context of the services that run the portal's own image


@cache
def compose() -> dict[str, Any]:
    # PyYAML's safe loader resolves the `<<: *portal` merge keys.
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def portal_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if s.get("build") == PORTAL_IMAGE}


@cache
def dockerfile() -> str:
    # Continuation lines joined, so one instruction is one line.
    return (ROOT / "Dockerfile").read_text().replace("\\\n", " ")


def image_environment() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in dockerfile().splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line.removeprefix("ENV ")):
                key, _, value = pair.partition("=")
                found[key] = value
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """What a portal container's processes see: the image's ENV, then the service's."""
    return {**image_environment(), **{k: str(v) for k, v in service["environment"].items()}}


def setting_folder(service: dict[str, Any], variable: str, default_under_var: str) -> str:
    """A folder setting as portal/settings.py reads it: the variable, else under PORTAL_VAR_DIR."""
    env = environment(service)
    return env.get(variable) or f"{env['PORTAL_VAR_DIR']}/{default_under_var}"


def named_volume_at(service: dict[str, Any], folder: str) -> str | None:
    """The named volume mounted at ``folder`` or at a folder above it, if any."""
    for mount in service.get("volumes", []):
        source, target = mount.split(":")[:2]
        if source.startswith((".", "/")):
            continue
        if (
            PurePosixPath(folder) == PurePosixPath(target)
            or PurePosixPath(target) in PurePosixPath(folder).parents
        ):
            return source
    return None


def steps(command: str | list[str]) -> list[list[str]]:
    """A service's command as the commands it runs: ``sh -c "a && b"`` is ``a`` then ``b``."""
    words = shlex.split(command) if isinstance(command, str) else list(command)
    if words[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in re.split(r"&&|;", words[2]) if part.strip()]
    return [words]


def serving_runtimes() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in portal_services().items()
        if any(
            step[:3] == ["python", "manage.py", "run_serving"] for step in steps(service["command"])
        )
    }


def the_serving_runtime() -> dict[str, Any]:
    runtimes = list(serving_runtimes().values())
    assert len(runtimes) == 1, f"compose runs {len(runtimes)} serving runtimes, not one"
    return runtimes[0]


def gunicorn_services(module: str) -> list[dict[str, Any]]:
    return [
        service
        for service in portal_services().values()
        if any(step[:2] == ["gunicorn", module] for step in steps(service["command"]))
    ]


def celery_services(kind: str) -> list[dict[str, Any]]:
    return [
        service
        for service in portal_services().values()
        if any(step[:1] == ["celery"] and kind in step for step in steps(service["command"]))
    ]


def readme_services() -> list[str]:
    """The first column of the services table under README's "Running with docker compose"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Running with docker compose", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z-]+)` \|", section, flags=re.MULTILINE)


# --- The services ---------------------------------------------------------------------------------


def test_the_readme_lists_exactly_the_services_compose_runs() -> None:
    listed = readme_services()
    assert listed, "README's 'Running with docker compose' has no table of services"
    assert sorted(listed) == sorted(services())


def test_compose_runs_the_serving_runtime_that_local_deployments_need() -> None:
    # Without it, a revision on the local target waits for a model server nobody starts and
    # fails after SERVING_START_TIMEOUT_SECONDS.
    assert list(serving_runtimes()) == ["serving"]


def test_the_gateway_and_the_web_app_run_in_services_of_their_own() -> None:
    gateways, webs = gunicorn_services("portal.gateway_wsgi"), gunicorn_services("portal.wsgi")
    assert gateways and webs
    assert not [service for service in gateways if service in webs]


# --- Each command exists --------------------------------------------------------------------------


def image_holds(path: str) -> bool:
    """A script path a container runs exists in the repository (``COPY . .``) or is installed."""
    relative = path.removeprefix("/app/").removeprefix("./")
    return (ROOT / relative).is_file() or (
        path == "/usr/bin/bwrap" and "bubblewrap" in dockerfile()
    )


def check_step(step: list[str]) -> str | None:
    """What is wrong with one command of a portal container, or None."""
    program = step[0]
    if program == "python" and step[1] == "manage.py":
        if step[2] not in get_commands():
            return f"manage.py has no command {step[2]!r}"
        return None
    if program == "gunicorn":
        module, _, attribute = step[1].partition(":")
        loaded = importlib.import_module(module)
        if not callable(getattr(loaded, attribute or "application", None)):
            return f"{step[1]} has no WSGI application"
        return None
    if program == "celery":
        app_module = step[step.index("-A") + 1]
        loaded = importlib.import_module(f"{app_module}.celery")
        if not isinstance(getattr(loaded, "app", None), Celery):
            return f"{app_module} has no Celery app"
        if not {"worker", "beat"} & set(step):
            return f"celery is run without worker or beat: {step}"
        return None
    if "/" in program:
        return None if image_holds(program) else f"the image holds no {program}"
    return f"unknown program {program!r}"


@pytest.mark.parametrize("name", sorted(portal_services()))
def test_every_portal_service_runs_commands_that_exist(name: str) -> None:
    problems = [check_step(step) for step in steps(portal_services()[name]["command"])]
    assert [problem for problem in problems if problem] == []


def test_the_image_installs_what_the_services_call() -> None:
    assert re.search(r"apt-get install [^\n]*\bbubblewrap\b", dockerfile()), (
        "the serving runtime sandboxes model servers with bubblewrap"
    )
    assert re.search(r"pip install [^\n]*-r requirements/runtime\.txt", dockerfile())
    pinned = (ROOT / "requirements/runtime.txt").read_text()
    # gunicorn (web, gateway), celery (workers, beat), uvicorn (each model server).
    for package in ("gunicorn", "celery", "uvicorn", "mlflow-skinny"):
        assert re.search(rf"^{package}==", pinned, flags=re.MULTILINE), package


# --- What the containers share --------------------------------------------------------------------


def test_the_gateway_reaches_the_model_servers_sockets_on_a_shared_volume() -> None:
    runtime = the_serving_runtime()
    folder = setting_folder(runtime, "SERVING_DIR", "serving")
    volume = named_volume_at(runtime, folder)
    assert volume in compose()["volumes"], f"SERVING_DIR ({folder}) is not on a named volume"
    for gateway in gunicorn_services("portal.gateway_wsgi"):
        assert setting_folder(gateway, "SERVING_DIR", "serving") == folder
        assert named_volume_at(gateway, folder) == volume


def test_the_capture_store_is_one_volume_for_the_gateway_the_workers_and_beat() -> None:
    users = [*gunicorn_services("portal.gateway_wsgi"), *celery_services("worker")]
    users += celery_services("beat")
    folders = {setting_folder(s, "CAPTURE_STORE_URI", "capture") for s in users}
    assert len(folders) == 1
    (folder,) = folders
    volumes = {named_volume_at(s, folder) for s in users}
    assert len(volumes) == 1 and None not in volumes, f"{folder} is not one shared volume"


def test_the_serving_runtime_may_start_bubblewrap_sandboxes() -> None:
    runtime = the_serving_runtime()
    assert environment(runtime).get("SERVING_SANDBOX", "bwrap") == "bwrap"
    # Docker's default seccomp and AppArmor profiles refuse user namespaces and mounts, and its
    # masked /proc paths refuse the sandbox's own /proc.
    assert {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} <= set(
        runtime.get("security_opt", [])
    )


# --- MLflow's webhooks ----------------------------------------------------------------------------


def registrations() -> list[list[str]]:
    return [
        step
        for service in portal_services().values()
        for step in steps(service["command"])
        if step[:3] == ["python", "manage.py", "point_mlflow_webhook"]
    ]


def test_mlflow_delivers_registry_webhooks_to_the_portal_on_the_compose_network() -> None:
    mlflow = services()["mlflow"]["environment"]
    assert "http" in mlflow["MLFLOW_WEBHOOK_ALLOWED_SCHEMES"].split(",")
    assert mlflow["MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS"] == "true"
    assert mlflow["MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY"]


def test_a_service_points_mlflow_webhook_at_the_portal_which_answers_there() -> None:
    (step,) = registrations()
    url = urlsplit(step[step.index("--url") + 1])
    receiver = services()[url.hostname]
    assert receiver.get("build") == PORTAL_IMAGE
    assert resolve(url.path).func.__name__ == "mlflow_webhook"
    allowed = environment(receiver)["ALLOWED_HOSTS"].split(",")
    assert url.hostname in allowed, "the receiver refuses the host name MLflow calls it by"
    assert "MLFLOW_WEBHOOK_SECRET" in services()[url.hostname]["environment"]
