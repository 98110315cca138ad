"""The load itself: each virtual user a thread with its own keep-alive connection."""

from __future__ import annotations

import http.client
import random
import re
import statistics
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from benchmarks.load.processes import CpuMeter
from benchmarks.load.scenario import MIXES, PROBES, ROUTES
from benchmarks.load.settings import PROBE_SHARE, SECONDS, SEED, THINK, THREADS, WARMUP, WORKERS


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar = {}
    for header in response.msg.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


class Connection:
    """One keep-alive connection to gunicorn, reopened when the server has closed it."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.port, self.headers = port, headers
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        for attempt in (1, 2):
            fresh = self.conn is None
            if fresh:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(
                    method, path, body=body, headers={**self.headers, **(headers or {})}
                )
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if fresh or attempt == 2:  # only an idle connection closed by the server is retried
                    raise
                continue
            if response.will_close:
                self.close()
            return response, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def login(port: int, username: str, password: str) -> str:
    """Sign in through the login form; returns the Cookie header of the session."""
    conn = Connection(port, {})
    try:
        response, page = conn.request("GET", "/login/")
        jar = _cookies(response)
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if response.status != 200 or not match or "csrftoken" not in jar:
            raise RuntimeError(f"the login page answered {response.status}")
        form = urllib.parse.urlencode(
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": match.group(1).decode(),
            }
        ).encode()
        response, page = conn.request(
            "POST",
            "/login/",
            form,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={jar['csrftoken']}",
            },
        )
        jar.update(_cookies(response))
        if response.status != 302 or "sessionid" not in jar:
            raise RuntimeError(f"{username} could not sign in: {response.status} {page[:200]!r}")
        return "; ".join(f"{k}={v}" for k, v in jar.items())
    finally:
        conn.close()


@dataclass
class Sample:
    route: str
    group: str
    ms: float
    status: int
    ok: bool
    leak: str  # another unit's slug found in a unit member's answer
    names_unit: bool  # a unit's slug found in a platform role's answer (the search works)
    measured: bool


@dataclass
class VirtualUser:
    index: int
    kind: str
    unit: str | None
    username: str
    headers: dict[str, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    failure: str = ""


def _pick(weights: dict[str, int], rng: random.Random) -> str:
    names = list(weights)
    return rng.choices(names, weights=[weights[n] for n in names])[0]


def _next_request(user: VirtualUser, plan: dict, rng: random.Random) -> tuple[str, str, str, bool]:
    """(route, group, path, expect refusal) of the user's next request."""
    units = plan["units"]
    if user.unit is not None and rng.random() < PROBE_SHARE:
        names = [n for n, (pages, _) in PROBES.items() if user.kind != "token" or not pages]
        name = rng.choice(names)
        other = rng.choice([u for slug, u in units.items() if slug != user.unit])
        return name, "isolation probe", PROBES[name][1](rng, units[user.unit], other), True
    route = _pick(MIXES[user.kind], rng)
    unit = units[user.unit] if user.unit is not None else rng.choice(list(units.values()))
    group, path_for = ROUTES[route]
    return route, group, path_for(rng, unit), False


def _user_loop(
    user: VirtualUser,
    plan: dict,
    port: int,
    start_at: float,
    measure_from: float,
    stop_at: float,
    pattern: re.Pattern,
) -> None:
    """``pattern`` finds other units' slugs for a unit member, any unit's for platform roles."""
    rng = random.Random(SEED * 7 + user.index)  # noqa: S311 (the user's mix)
    conn = Connection(port, user.headers)
    try:
        time.sleep(max(0.0, start_at - time.perf_counter()) + rng.uniform(0, WARMUP * 0.8))
        while time.perf_counter() < stop_at:
            route, group, path, refused = _next_request(user, plan, rng)
            began = time.perf_counter()
            try:
                response, body = conn.request("GET", path)
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                status, body = 0, repr(error).encode()
            ended = time.perf_counter()
            ok = status in (403, 404) if refused else status == 200
            found = pattern.search(body)
            user.samples.append(
                Sample(
                    route=route,
                    group=group,
                    ms=(ended - began) * 1000,
                    status=status,
                    ok=ok,
                    leak=found.group(0).decode() if found and user.unit else "",
                    names_unit=bool(found) and not user.unit,
                    measured=began >= measure_from and ended <= stop_at,
                )
            )
            if not ok and not user.failure:
                user.failure = f"{route} {path} -> {status}: {body[:300]!r}"
            think = rng.uniform(*THINK) if len(THINK) == 2 else THINK[0]
            time.sleep(max(0.0, min(think, stop_at - time.perf_counter())))
    except BaseException as error:  # reported with the figures
        user.failure = f"the client stopped: {error!r}"
    finally:
        conn.close()


def _latency(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {"median_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    if len(samples) == 1:
        cuts = samples * 99
    else:
        cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(max(samples), 1),
    }


def _figures(samples: list[Sample], key: Callable[[Sample], str]) -> dict[str, dict]:
    measured = defaultdict(list)
    every = defaultdict(list)
    for sample in samples:
        every[key(sample)].append(sample)
        if sample.measured:
            measured[key(sample)].append(sample.ms)
    return {
        name: {
            "requests": len(measured[name]),
            "rps": round(len(measured[name]) / SECONDS, 2),
            **_latency(measured[name]),
            "errors": sum(not s.ok for s in every[name]),
            "leaks": sum(bool(s.leak) for s in every[name]),
        }
        for name in sorted(every)
    }


def run_load(plan: dict, port: int, gunicorn_pid: int) -> dict:
    users = [
        VirtualUser(index=i, kind=u["kind"], unit=u["unit"], username=u["username"])
        for i, u in enumerate(plan["users"])
    ]
    began = time.perf_counter()

    def sign_in(user: VirtualUser) -> None:
        if user.kind == "token":
            user.headers = {"Authorization": f"Bearer {plan['tokens'][user.unit]}"}
        else:
            user.headers = {"Cookie": login(port, user.username, plan["password"])}

    with ThreadPoolExecutor(max_workers=WORKERS * THREADS) as pool:
        list(pool.map(sign_in, users))
    signed_in = time.perf_counter() - began
    print(f"  {len(users)} users signed in (login form or token) in {signed_in:.1f} s", flush=True)

    slugs = list(plan["units"])
    patterns = {
        slug: re.compile("|".join(re.escape(s) for s in slugs if s != slug).encode())
        for slug in [*slugs, None]
    }
    start_at = time.perf_counter() + 0.5
    measure_from = start_at + WARMUP
    stop_at = measure_from + SECONDS
    threads = [
        threading.Thread(
            target=_user_loop,
            args=(
                u,
                plan,
                port,
                start_at,
                measure_from,
                stop_at,
                patterns[u.unit],
            ),
            daemon=True,
        )
        for u in users
    ]
    for thread in threads:
        thread.start()
    meter = CpuMeter(gunicorn_pid)
    time.sleep(max(0.0, measure_from - time.perf_counter()))
    meter.start()
    time.sleep(max(0.0, stop_at - time.perf_counter()))
    cpu = meter.finish()
    busiest_others = meter.top_others
    for thread in threads:
        thread.join(timeout=120)
    samples = [s for u in users for s in u.samples]
    measured = [s for s in samples if s.measured]
    leaks = [s for s in samples if s.leak]
    errors = [s for s in samples if not s.ok]
    statuses = Counter(s.status for s in errors)
    overall = {
        "requests": len(measured),
        "requests_with_warmup": len(samples),
        "rps": round(len(measured) / SECONDS, 1),
        **_latency([s.ms for s in measured]),
        "errors": len(errors),
        "error_statuses": {str(k): v for k, v in statuses.items()},
        "leaks": len(leaks),
        "probes": sum(s.group == "isolation probe" for s in samples),
        "platform_answers": sum(not u.unit for u in users for _ in u.samples),
        "platform_answers_naming_a_unit": sum(s.names_unit for s in samples),
    }
    by_kind = defaultdict(list)
    for user in users:
        by_kind[user.kind].extend(s.ms for s in user.samples if s.measured)
    return {
        "overall": overall,
        "groups": _figures(samples, lambda s: s.group),
        "routes": _figures(samples, lambda s: s.route),
        "roles": {kind: {"requests": len(v), **_latency(v)} for kind, v in sorted(by_kind.items())},
        "busy_cores": cpu,
        "busiest_other_processes": busiest_others,
        "signed_in_s": round(signed_in, 1),
        "failures": sorted({u.failure for u in users if u.failure})[:10],
        "leak_samples": [f"{s.route}: {s.leak}" for s in leaks[:10]],
    }
