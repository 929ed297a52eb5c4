"""modsim benchmarks: prints a table of throughput and memory figures.

    python benchmarks/run.py            # everything (several minutes)
    python benchmarks/run.py --quick    # smaller sizes, for a smoke check

Each measurement runs in its own process, so peak memory (ru_maxrss) is that
run's alone. Not part of the test suite: timing goals live here, never in tests.
SimPy is a benchmark-only dependency (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# --- measurements, each run in a child process ---------------------------------------


def _child_run(spec: dict[str, Any]) -> dict[str, Any]:
    import resource

    from simulator.api import simulate
    from simulator.config import load_policy, load_scenario

    sc = load_scenario(ROOT / spec["scenario"]).model
    update: dict[str, Any] = {}
    if "days" in spec:
        update["days"] = spec["days"]
        end = sc.start.replace(tzinfo=None).timestamp() + spec["days"] * 86400
        update["surges"] = [s for s in sc.surges if s.start.timestamp() < end]
    if spec.get("flat"):
        # Constant daily volume and no surges: memory growth then measures what
        # accumulates over the run, not how much bigger January's days are.
        pop = sc.population
        level = max(p.users for p in pop.daily_active_users)
        points = [p.model_copy(update={"users": level}) for p in pop.daily_active_users]
        update["population"] = pop.model_copy(update={"daily_active_users": points})
        update["surges"] = []
    if "users_scale" in spec:
        pop = sc.population
        points = [
            p.model_copy(update={"users": p.users * spec["users_scale"]})
            for p in pop.daily_active_users
        ]
        update["population"] = pop.model_copy(update={"daily_active_users": points})
    if "mode" in spec:
        texts = sc.content.texts.model_copy(update={"mode": spec["mode"]})
        update["content"] = sc.content.model_copy(update={"texts": texts})
    sc = type(sc).model_validate({**sc.model_dump(), **{k: v for k, v in update.items()}})
    policy = load_policy(ROOT / spec["policy"]).model
    if policy.prefilter.enabled:
        # Train the classifier before the clock starts: a one-off per process.
        from simulator.seeding import SeedTree
        from simulator.stages.prefilter import classifier_for

        classifier_for(policy.prefilter, sc, SeedTree(spec.get("seed", 0)))
    hosts = [ROOT / h for h in spec.get("hosts", [])]
    t0 = time.perf_counter()
    result = simulate(sc, policy, hosts, seed=spec.get("seed", 0))
    seconds = time.perf_counter() - t0
    posts = result.summary["posts"]["created"]
    return {
        "posts": posts,
        "seconds": seconds,
        "posts_per_second": posts / seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "suspended_at": result.summary["enforcement"]["suspended_at"],
    }


def _child_queue(spec: dict[str, Any]) -> dict[str, Any]:
    """Our review queue against an idiomatic SimPy model of the same M/M/c queue."""
    import numpy as np
    import simpy
    from scipy import stats

    from simulator.queueing import ReviewQueue, TeamSpec
    from simulator.taxonomy import N_CLASSES

    c, load, n = spec["servers"], spec["load"], spec["cases"]
    mu = 60.0  # reviews per hour per reviewer (one-minute mean)
    lam = load * c * mu
    rng = np.random.default_rng(1)
    arrivals = np.cumsum(rng.exponential(1 / lam, n))

    team = TeamSpec(
        name="bench",
        servers=np.array([c]),
        review_minutes=60 / mu,
        accuracy=np.ones(N_CLASSES),
    )
    queue = ReviewQueue(team, np.random.default_rng(2))
    t0 = time.perf_counter()
    queue.submit(np.arange(n), arrivals, np.zeros(n, dtype=np.int8), np.zeros(n, dtype=bool))
    log = queue.run_until(float(arrivals[-1]) + 1000)
    ours = time.perf_counter() - t0
    our_waits = log.wait[~np.isnan(log.wait)]

    waits: list[float] = []
    srng = np.random.default_rng(3)

    def case(env: simpy.Environment, reviewers: simpy.Resource) -> Any:
        arrived = env.now
        with reviewers.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(srng.exponential(1 / mu))

    def source(env: simpy.Environment, reviewers: simpy.Resource) -> Any:
        last = 0.0
        for t in arrivals:
            yield env.timeout(t - last)
            last = t
            env.process(case(env, reviewers))

    env = simpy.Environment()
    reviewers = simpy.Resource(env, capacity=c)
    t0 = time.perf_counter()
    env.process(source(env, reviewers))
    env.run()
    theirs = time.perf_counter() - t0
    # Consecutive waits in a queue are strongly autocorrelated, which makes a
    # KS test on all of them far too confident; keep every `lag`-th wait after
    # the warm-up, a spacing beyond the correlation time at this load.
    warm, lag = n // 10, 250
    ks = stats.ks_2samp(our_waits[warm::lag], np.asarray(waits)[warm::lag])
    return {
        "cases": n,
        "ours_cases_per_second": n / ours,
        "simpy_cases_per_second": n / theirs,
        "ratio": theirs / ours,
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "ks_samples": len(our_waits[warm::lag]),
    }


def _in_child(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{kind} {spec} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the table -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke check)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, spec = args.child[0], json.loads(args.child[1])
        print(json.dumps({"run": _child_run, "queue": _child_queue}[kind](spec)))
        return

    from rich.console import Console
    from rich.table import Table

    quick = args.quick
    parler = "scenarios/parler-like.yaml"
    host = "policies/host-notice-and-strike.yaml"
    rows: list[tuple[str, str, str]] = []

    def add(name: str, value: str, target: str) -> None:
        rows.append((name, value, target))
        print(f"  {name}: {value}  (target {target})", file=sys.stderr, flush=True)

    full_days = 14 if quick else 75
    r = _in_child(
        "run",
        {
            "scenario": parler,
            "policy": "policies/jury-only.yaml",
            "hosts": [host],
            "days": full_days,
        },
    )
    add(
        f"Parler-like, full scale, scale mode, jury-only, {full_days} days",
        f"{r['seconds']:.1f} s, {r['posts'] / 1e6:.1f} M posts, {r['peak_mb']:.0f} MB peak",
        "< 120 s, < 2048 MB (75 days)",
    )
    add(
        "scale mode throughput (jury-only)",
        f"{r['posts_per_second'] / 1e6:.2f} M posts/s",
        ">= 1 M posts/s",
    )
    r = _in_child(
        "run",
        {
            "scenario": parler,
            "policy": "policies/jury-plus-ai.yaml",
            "hosts": [host],
            "days": full_days,
        },
    )
    add(
        "scale mode throughput (jury + AI prefilter)",
        f"{r['posts_per_second'] / 1e6:.2f} M posts/s",
        ">= 1 M posts/s",
    )

    text = _in_child(
        "run",
        {
            "scenario": "scenarios/quick.yaml",
            "policy": "policies/ai-first.yaml",
            "days": 2 if quick else 7,
            "users_scale": 2.0,
        },
    )
    add(
        "text mode throughput (ai-first, quick x2)",
        f"{text['posts_per_second']:,.0f} posts/s",
        ">= 20,000 posts/s",
    )

    for flat in (False, True):
        mems = {}
        label = "constant volume, no surges" if flat else "the scenario's growth and surges"
        for days in (7, 35, 70) if not quick else (3, 7):
            # No host, so no suspension cuts the run short.
            spec = {"scenario": parler, "policy": "policies/jury-only.yaml", "days": days}
            m = _in_child("run", {**spec, "flat": flat})
            mems[days] = m["peak_mb"]
            add(
                f"peak memory, {days} days full scale ({label})",
                f"{m['peak_mb']:.0f} MB ({m['posts'] / 1e6:.1f} M posts)",
                "",
            )
        first, last = min(mems), max(mems)
        add(
            f"peak memory growth {first} -> {last} days ({label})",
            f"{100 * (mems[last] / mems[first] - 1):+.1f}%",
            "within 10%",
        )

    q = _in_child("queue", {"servers": 20, "load": 0.9, "cases": 50_000 if quick else 300_000})
    add(
        "review queue vs SimPy (M/M/20, load 0.9)",
        f"{q['ratio']:.1f}x ({q['ours_cases_per_second']:,.0f} vs "
        f"{q['simpy_cases_per_second']:,.0f} cases/s)",
        ">= 10x",
    )
    add(
        "same wait distribution (two-sample KS)",
        f"D = {q['ks_statistic']:.4f}, p = {q['ks_pvalue']:.3f} (n = {q['ks_samples']} each)",
        "p not small",
    )

    table = Table(title="modsim benchmarks" + (" (--quick)" if quick else ""))
    for col in ("measure", "result", "target"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
