"""Evaluating policy rules within a time budget, in worker processes that can be killed.

A Python thread cannot be stopped, and celpy has no cost limit, so rules run in a small pool of
long-lived processes (``governance/policy_worker.py``). Each evaluation of a policy gets
``POLICY_EVALUATION_BUDGET_MS`` of CPU time in the worker; a rule still running then is reported
as out of budget and the policy treats it as failing closed. Should the worker not answer within
``WALL_CLOCK_FACTOR`` times the budget plus a second of wall-clock time, it is killed and replaced.

Workers are started on first use in each process (after a fork too) and reused; the ones idle at
exit end with the pipe that feeds them.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)
WORKER = Path(__file__).resolve().parent / "policy_worker.py"
WORKER_MEMORY_BYTES = 1024 * 1024 * 1024  # address space of a worker
WORKER_START_SECONDS = 20.0  # to import celpy on a loaded machine
WALL_CLOCK_FACTOR = 4
WALL_CLOCK_SLACK_SECONDS = 1.0
IDLE_WORKERS_KEPT = 4


@dataclass(frozen=True)
class Outcome:
    """One rule's result: ``kind`` is bool, type, error, crash or budget (see policy_worker), or
    context when the request context was refused before evaluation."""

    kind: str
    value: Any = None


class EvaluatorUnavailable(Exception):
    pass


def budget_ms() -> int:
    return int(settings.POLICY_EVALUATION_BUDGET_MS)


class _Worker:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(WORKER), str(WORKER_MEMORY_BYTES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        self.buffer = b""
        self.ready = False

    def read_line(self, deadline: float) -> bytes | None:
        """The next line from the worker, or None when the deadline passes or it exited."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(remaining * 1000):
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def send(self, job: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(job).encode() + b"\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """End the worker by closing its input; kill it if it does not go."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


_lock = threading.Lock()
_idle: list[_Worker] = []
_owner = os.getpid()


def _checkout() -> _Worker:
    global _owner
    with _lock:
        if _owner != os.getpid():  # a forked child: the parent's pipes are not ours to use
            _idle.clear()
            _owner = os.getpid()
        while _idle:
            worker = _idle.pop()
            if worker.process.poll() is None:
                return worker
            worker.kill()  # it died idle (killed from outside): reap it and close its pipes
    return _Worker()


def _checkin(worker: _Worker) -> None:
    with _lock:
        if _owner == os.getpid() and len(_idle) < IDLE_WORKERS_KEPT:
            _idle.append(worker)
            return
    worker.close()


def _replace() -> None:
    """Start a worker in the background, so the next evaluation finds one ready."""
    _checkin(_Worker())


@atexit.register
def _close_idle() -> None:
    with _lock:
        for worker in _idle:
            worker.close()
        _idle.clear()


def rules_evaluate(
    rules: list[str], context: dict[str, Any], *, budget: int | None = None
) -> list[Outcome]:
    """Evaluate each CEL rule on the context, all of them within ``budget`` ms of CPU time."""
    if not rules:
        return []
    budget = budget_ms() if budget is None else budget
    worker = _checkout()
    try:
        if not worker.ready:
            if worker.read_line(time.monotonic() + WORKER_START_SECONDS) != b"ready":
                raise EvaluatorUnavailable("the policy evaluator did not start")
            worker.ready = True
        worker.send({"rules": rules, "context": context, "budget": budget / 1000})
        limit = budget / 1000 * WALL_CLOCK_FACTOR + WALL_CLOCK_SLACK_SECONDS
        line = worker.read_line(time.monotonic() + limit)
        if line is None:
            worker.kill()
            _replace()
            return [Outcome("budget")] * len(rules)
        answers = json.loads(line)
    except Exception:  # a dead pipe, a garbled answer: the rules fail closed
        logger.exception("The policy evaluator failed; the rules count as not evaluable.")
        worker.kill()
        return [Outcome("crash", "the policy evaluator stopped")] * len(rules)
    _checkin(worker)
    outcomes = [Outcome(a[0], a[1] if len(a) > 1 else None) for a in answers]
    return outcomes + [Outcome("budget")] * (len(rules) - len(outcomes))
