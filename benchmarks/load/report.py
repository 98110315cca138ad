"""The report printed at the end of a run: figures per route group and route, and the verdicts."""

from __future__ import annotations

import os

from benchmarks.load.settings import P95_TARGET_MS, SECONDS, THINK, THREADS, USERS, WARMUP, WORKERS


def report(plan: dict, results: dict) -> None:
    o = results["overall"]
    print(
        f"  {USERS} users, think {'-'.join(f'{t:g}' for t in THINK)} s, {SECONDS:.0f} s measured "
        f"after {WARMUP:.0f} s ramp-up, gunicorn {WORKERS} workers x {THREADS} threads"
    )
    header = f"    {'':38s} {'requests':>8s} {'req/s':>7s} {'median':>8s} {'p95':>8s} {'p99':>8s} {'errors':>6s} {'leaks':>5s}"
    for title, rows in (("route groups", results["groups"]), ("routes", results["routes"])):
        print(f"  {title}:")
        print(header)
        for name, f in rows.items():
            profile = plan["profile"].get(name)
            note = (
                f"  ({profile['queries']} queries, {profile['median_ms']:.0f} ms alone)"
                if profile
                else ""
            )
            print(
                f"    {name:38s} {f['requests']:8d} {f['rps']:7.1f} {f['median_ms']:8.1f} "
                f"{f['p95_ms']:8.1f} {f['p99_ms']:8.1f} {f['errors']:6d} {f['leaks']:5d}{note}"
            )
    print(
        f"  overall: {o['requests']} requests, {o['rps']:.1f} req/s, median {o['median_ms']:.1f} ms, "
        f"p95 {o['p95_ms']:.1f} ms, p99 {o['p99_ms']:.1f} ms, max {o['max_ms']:.0f} ms"
    )
    if results["busy_cores"]:
        print(
            "  busy cores on average: "
            + ", ".join(f"{k} {v:.2f}" for k, v in results["busy_cores"].items())
            + f" (of {os.cpu_count()})"
        )
    others = results["busy_cores"].get("others", 0.0)
    if others > 0.25:
        print(
            f"  note: other processes kept {others:.2f} of the {os.cpu_count()} cores busy during "
            "the measurement; the latencies include waiting for them"
        )
        for line in results["busiest_other_processes"]:
            print(f"    {line}")
    for failure in results["failures"]:
        print(f"  failure: {failure}")
    for leak in results["leak_samples"]:
        print(f"  LEAK: {leak}")
    verdicts = results["verdicts"]
    print(
        f"  p95 {o['p95_ms']:.1f} ms (target at most {P95_TARGET_MS:.0f} ms): "
        + ("met" if verdicts["p95"] else "MISSED")
    )
    print(f"  errors: {o['errors']} (target 0): " + ("met" if verdicts["errors"] else "MISSED"))
    print(
        f"  answers showing another unit's data: {o['leaks']} of {o['requests_with_warmup']}, "
        f"{o['probes']} isolation probes among them (target 0): "
        + ("met" if verdicts["leaks"] else "MISSED")
    )
    print(
        f"  (the same search finds a unit's slug in {o['platform_answers_naming_a_unit']} of "
        f"{o['platform_answers']} answers to platform roles, who see every unit)"
    )
