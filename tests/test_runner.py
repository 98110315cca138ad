"""`make run` as a new user meets it: started, stopped with Ctrl-C, started again on the same
``var/``, and started once more after ``make clean``; each start serves the portal, the demo
company exists once, and MLflow's webhook still brings a new version into the catalog at once.

The runner runs on the embedded default (SQLite, a filesystem broker, its own MLflow) in a
folder of its own and on free loopback ports, whatever servers the rest of the suite uses.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import ROOT_DIR, free_port, wait_for

# Variables that would point the runner at the suite's servers instead of the embedded default.
SERVER_VARIABLES = {
    "DATABASE_URL",
    "DATABASE_MIGRATE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_WEBHOOK_SECRET",
    "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY",
    "PORTAL_VAR_DIR",
    "SECRET_KEY",
}
# The first start trains and registers the demo models; a busy machine takes minutes.
START_SECONDS = 600

COUNTS = """
import json
from chargeback.models import BillingPeriod, Budget, Statement
from portal.catalog.models import ModelVersion, RegisteredModel
from portal.deployments.models import Deployment
from portal.monitoring.models import Baseline, Monitor
from tenants.models import Membership, Tenant, User
from tenants.scoping import dangerously_across_tenants

with dangerously_across_tenants("test of the runner: what the demo holds"):
    counts = {
        "tenants": Tenant.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.objects.dangerously_across_tenants().count(),
        "models": RegisteredModel.objects.dangerously_across_tenants().count(),
        "versions": sorted(
            f"{v.model.name} v{v.version}"
            for v in ModelVersion.objects.dangerously_across_tenants().select_related("model")
        ),
        "deployment names": sorted(
            Deployment.objects.dangerously_across_tenants().values_list("name", flat=True)
        ),
        "budgets": Budget.objects.dangerously_across_tenants().count(),
        "closed periods": BillingPeriod.objects.filter(state="closed").count(),
        "statements": Statement.objects.dangerously_across_tenants().count(),
        "monitors": Monitor.objects.dangerously_across_tenants().count(),
        "baselines": Baseline.objects.dangerously_across_tenants().count(),
    }
print(json.dumps(counts))
"""


class Portal:
    """One ``python -m portal.runner`` on a folder and ports of its own."""

    def __init__(self, var_dir: Path, log: Path) -> None:
        self.var_dir = var_dir
        self.log = log
        self.port = free_port()
        self.mlflow_port = free_port()
        self.env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
        self.env.update(
            PORTAL_VAR_DIR=str(var_dir),
            PORT=str(self.port),
            MLFLOW_PORT=str(self.mlflow_port),
            DEBUG="true",
        )
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as output:
            output.write(f"\n===== start at {time.strftime('%H:%M:%S')}\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "portal.runner"],
                cwd=ROOT_DIR,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def serves(self, path: str = "/api/schema/") -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=5) as answer:  # noqa: S310
                return answer.status == 200
        except OSError:
            return False

    def wait_until_it_serves(self) -> None:
        def up() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, f"the runner exited:\n{self.output()}"
            return self.serves()

        assert wait_for(up, seconds=START_SECONDS, interval=1), (
            f"the portal did not serve within {START_SECONDS} s:\n{self.output()}"
        )

    def stop(self) -> None:
        """Ctrl-C, as a person stops ``make run``."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # Anything the runner left behind in its process group goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def manage(self, *args: str, timeout: float = 120) -> str:
        env = {**self.env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{self.mlflow_port}"}
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def demo_counts(self) -> dict:
        return json.loads(self.manage("shell", "-c", COUNTS).strip().splitlines()[-1])

    def log_new_version(self, model: str) -> str:
        """A new version of ``model`` in MLflow, from the run of its newest version."""
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=f"http://127.0.0.1:{self.mlflow_port}")
        newest = max(
            client.search_model_versions(f"name = '{model}'"), key=lambda v: int(v.version)
        )
        created = client.create_model_version(
            model,
            source=newest.source,
            run_id=newest.run_id,
            model_id=newest.source.removeprefix("models:/"),
        )
        return f"{model} v{created.version}"


@pytest.fixture
def portal(tmp_path):
    portal = Portal(tmp_path / "var", tmp_path / "runner.log")
    yield portal
    if portal.process is not None and portal.process.poll() is None:
        portal.stop()


def test_make_run_starts_again_after_ctrl_c_and_after_make_clean(portal):
    portal.start()
    portal.wait_until_it_serves()
    first = portal.demo_counts()
    assert first["tenants"] == 2
    assert first["models"] >= 3
    portal.stop()

    portal.start()
    portal.wait_until_it_serves()
    assert "Start-up step failed" not in portal.output()
    assert portal.demo_counts() == first, "the second start made the demo company again"

    new_version = portal.log_new_version("churn-prediction")
    # The periodic sync runs every five minutes: within seconds, only the webhook brings it.
    assert wait_for(
        lambda: new_version in portal.demo_counts()["versions"], seconds=60, interval=2
    ), f"{new_version} did not reach the catalog:\n{portal.output()}"
    portal.stop()

    cleaned = subprocess.run(
        [
            shutil.which("make") or "make",
            "--no-print-directory",
            "clean",
            f"VAR_DIR={portal.var_dir}",
        ],
        cwd=ROOT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"Removing {portal.var_dir}/mlflow" in cleaned.stdout
    assert f"Removing {portal.var_dir}/portal.db" in cleaned.stdout
    assert not any(portal.var_dir.iterdir())

    portal.start()
    portal.wait_until_it_serves()
    assert portal.demo_counts()["tenants"] == 2
