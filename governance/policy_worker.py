"""The process that evaluates policy rules, apart from the web and task processes.

Started by ``governance.policy_budget`` as ``python -I policy_worker.py <memory bytes>``; it
imports nothing of the portal, only the standard library and celpy. It reads one job per line on
stdin, ``{"rules": [CEL, ...], "context": {...}, "budget": seconds}``, and writes one line per job:
a list with, for each rule, ``["bool", true]``, ``["type", "IntType"]`` (not a bool),
``["error", "message"]`` (CEL's own error, such as a missing key), ``["crash", "RecursionError"]``
(any other exception) or ``["budget"]`` (the job's CPU time ran out before the rule finished).

The budget is CPU time, counted by the kernel (``ITIMER_PROF``), so a busy machine does not make a
cheap policy run out; the parent also kills the process when a job outlasts a wall-clock limit (a
regular expression stuck in C never returns to the interpreter). The address space is capped, so
an expression that doubles a string in a loop ends in a MemoryError instead of swapping.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from typing import Any

PROGRAMS_KEPT = 512


class OutOfBudget(BaseException):  # a BaseException: celpy catches Exception
    """The job's CPU time ran out."""


def _out_of_budget(signum: int, frame: Any) -> None:
    raise OutOfBudget


def _evaluate(environment: Any, programs: dict[str, Any], rule: str, activation: Any) -> list:
    import celpy

    try:
        program = programs.get(rule)
        if program is None:
            if len(programs) >= PROGRAMS_KEPT:
                programs.clear()
            program = programs[rule] = environment.program(environment.compile(rule))
        value = program.evaluate(activation)
    except celpy.CELEvalError as error:
        value = error
    except celpy.CELParseError:
        return ["error", "not a valid CEL expression"]
    except Exception as error:  # RecursionError, MemoryError, celpy's own slips
        return ["crash", type(error).__name__]
    if isinstance(value, celpy.CELEvalError):
        return ["error", str(value.args[0] if value.args else value)]
    if isinstance(value, celpy.celtypes.BoolType):
        return ["bool", bool(value)]
    return ["type", type(value).__name__]


def _run(job: dict[str, Any], environment: Any, programs: dict[str, Any]) -> list:
    import celpy

    rules = job["rules"]
    results: list[list] = []
    signal.setitimer(signal.ITIMER_PROF, max(float(job["budget"]), 0.001))
    try:
        activation = celpy.json_to_cel(job["context"])
        for rule in rules:
            results.append(_evaluate(environment, programs, rule, activation))
    except OutOfBudget:
        pass
    except Exception as error:  # the context itself cannot be read
        return [["crash", type(error).__name__]] * len(rules)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    return results + [["budget"]] * (len(rules) - len(results))


def main() -> None:
    memory = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    import celpy

    environment = celpy.Environment()
    programs: dict[str, Any] = {}
    signal.signal(signal.SIGPROF, _out_of_budget)
    out = sys.stdout.buffer
    out.write(b"ready\n")
    out.flush()
    for line in sys.stdin.buffer:
        try:
            results = _run(json.loads(line), environment, programs)
        except OutOfBudget:  # the timer fired between the evaluation and its disarming
            results = []
        out.write(json.dumps(results).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
