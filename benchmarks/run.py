"""modsim benchmarks: prints a table of throughput and memory figures.

    python benchmarks/run.py            # everything (several minutes)
    python benchmarks/run.py --quick    # smaller sizes, for a smoke check
    python benchmarks/run.py --quick --against main --only queue,jurors
                                        # same-run ratios against another commit

Each measurement runs in its own process, so peak memory (ru_maxrss) is that
run's alone. Not part of the test suite: timing goals live here, never in tests.
SimPy is a benchmark-only dependency (``pip install -e ".[bench]"``).

``--against REF`` checks out REF in a temporary git worktree and runs every
measurement on both trees (PYTHONPATH pointing at each), alternating
new/old/new/old ``--repeats`` times so that drifting machine load hits both
alike; it keeps each tree's best run and adds a column with the ratio
new/old of the measured CPU time (or peak memory): above 1 is slower. CPU
time, not wall time: on a shared machine a process's wall time depends on
what else runs; its CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import parallel  # benchmarks/parallel.py, beside this file

ROOT = Path(__file__).resolve().parent.parent

# --- measurements, each run in a child process ---------------------------------------


def _scenario(spec: dict[str, Any]) -> Any:
    """The scenario of a measurement: a bundled one, shortened, flattened or scaled."""
    from simulator.config import load_scenario

    root = Path(spec.get("root", ROOT))  # the tree whose scenarios and policies to use
    sc = load_scenario(root / spec["scenario"]).model
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
    if "thinning" in spec:
        content = update.get("content", sc.content)
        update["content"] = content.model_copy(update={"thinning": spec["thinning"]})
    if spec.get("five_classes"):
        update |= _five_classes(sc)
    out = type(sc).model_validate({**sc.model_dump(), **{k: v for k, v in update.items()}})
    if "posts_per_day" in spec:  # users scaled so that the run's mean daily volume is this
        from simulator.stream.synthetic import hourly_rates

        scale = spec["posts_per_day"] * out.days / hourly_rates(out).sum()
        return _scenario(
            {k: v for k, v in spec.items() if k != "posts_per_day"}
            | {"users_scale": spec.get("users_scale", 1.0) * scale}
        )
    return out


def _five_classes(sc: Any) -> dict[str, Any]:
    """A scenario with declared areas, on the default five classes at the same volume:
    its violating share split between the two violating classes, its legitimate
    classes as they were (the same names), the same reach and audience otherwise."""
    from simulator.config.common import per_class

    tax = sc.taxonomy
    shares = dict(zip(tax.classes, sc.class_shares(), strict=True))
    violating = sum(shares[c] for c in tax.violating_classes)
    legit = ("violent_news", "heated_political", "benign")

    def five(mapping: dict[str, float]) -> dict[str, float]:
        # violating classes: the share-weighted mean of the areas' classes
        values = dict(zip(tax.classes, per_class(mapping, tax), strict=True))
        v = sum(values[c] * shares[c] for c in tax.violating_classes) / violating
        return {"violent_threat": v, "incitement": v} | {c: values[c] for c in legit}

    content = sc.content.model_dump()
    class_shares = {"violent_threat": violating / 2, "incitement": violating / 2}
    class_shares |= {c: shares[c] for c in legit}
    content.update(areas=None, legitimate_classes=None, class_shares=class_shares)
    reach = sc.reach.model_copy(update={"median_views": five(sc.reach.median_views)})
    audience = sc.audience.model_copy(
        update={
            "reports_per_1000_views": five(sc.audience.reports_per_1000_views),
            "sympathy": five(sc.audience.sympathy),
        }
    )
    return {
        "content": type(sc.content).model_validate(content),
        "reach": reach,
        "audience": audience,
    }


def _child_run(spec: dict[str, Any]) -> dict[str, Any]:
    import resource

    from simulator.api import simulate
    from simulator.config import load_policy

    root = Path(spec.get("root", ROOT))
    sc = _scenario(spec)
    policy = load_policy(root / spec["policy"]).model
    if policy.prefilter.enabled:
        # Train the classifier (or build the cards) before the clock starts: a
        # one-off per process.
        from simulator.seeding import SeedTree
        from simulator.stages.area_prefilter import AreaPrefilter
        from simulator.stages.prefilter import classifier_for

        if policy.prefilter.areas is None:
            classifier_for(policy.prefilter, sc, SeedTree(spec.get("seed", 0)))
        else:
            AreaPrefilter(policy, sc, SeedTree(spec.get("seed", 0)))
    hosts = [root / h for h in spec.get("hosts", [])]
    t0, c0 = time.perf_counter(), time.process_time()
    result = simulate(sc, policy, hosts, seed=spec.get("seed", 0))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    posts = result.summary["posts"]["created"]
    return {
        "posts": posts,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "posts_per_second": posts / seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "suspended_at": result.summary["enforcement"]["suspended_at"],
    }


def _child_folder(spec: dict[str, Any]) -> dict[str, Any]:
    """`modsim run` as a user runs it: the run and its results folder (per-post
    table, tables, report), in a process of its own whose CPU time and peak
    memory are measured."""
    import resource

    import pyarrow.parquet as pq
    import yaml

    root = Path(spec.get("root", ROOT))
    sc = _scenario(spec)
    with tempfile.TemporaryDirectory(prefix="modsim-bench-") as tmp:
        world = Path(tmp) / "scenario.yaml"
        data = {"kind": "Scenario", "version": 1, **sc.model_dump(mode="python")}
        world.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        out = Path(tmp) / "out"
        cmd = [
            sys.executable,
            "-m",
            "simulator",
            "run",
            str(world),
            "-p",
            str(root / spec["policy"]),
        ]
        cmd += [a for h in spec.get("hosts", []) for a in ("-H", str(root / h))]
        cmd += [
            "--out",
            str(out),
            "--posts",
            spec["posts"],
            "--seed",
            str(spec.get("seed", 0)),
            "-q",
        ]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=root)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise RuntimeError(f"modsim run failed:\n{done.stderr[-3000:]}")
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        rows = pq.ParquetFile(out / "posts.parquet").metadata.num_rows
    return {
        "rows": rows,
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_mb": usage.ru_maxrss / 1024,
    }


def _child_jurors(spec: dict[str, Any]) -> dict[str, Any]:
    """Our review queue with a juror pool: sessions, five votes a case, four to remove."""
    import numpy as np

    from simulator.queueing import JurorPool, ReviewQueue, TeamSpec
    from simulator.taxonomy import N_CLASSES

    n, jurors, hours = spec["cases"], spec["jurors"], spec["hours"]
    rng = np.random.default_rng(1)
    arrivals = np.sort(rng.uniform(0, hours, n))
    # about a tenth of the pool on duty for sessions of ~15 reviews (~20 minutes)
    sessions = int(jurors * 0.1 * hours * 3)
    pool = JurorPool(
        accuracy=rng.uniform(0.7, 1.0, (jurors, N_CLASSES)),
        session_start=np.sort(rng.uniform(0, hours, sessions)),
        session_juror=rng.integers(0, jurors, sessions),
        session_reviews=rng.geometric(1 / 15, sessions),
        idle_hours=1 / 6,
    )
    team = TeamSpec(
        name="jury",
        servers=np.array([jurors // 10]),
        votes_per_case=5,
        votes_to_remove=4,
        review_minutes=1.5,
        jurors=pool,
    )
    queue = ReviewQueue(team, np.random.default_rng(2))
    classes = rng.integers(0, N_CLASSES, n).astype(np.int8)
    t0, c0 = time.perf_counter(), time.process_time()
    queue.submit(np.arange(n), arrivals, classes, rng.random(n) < 0.2)
    log = queue.run_until(float(hours))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "cases": n,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "cases_per_second": n / seconds,
        "left": len(log),
    }


def _child_queue(spec: dict[str, Any]) -> dict[str, Any]:
    """Our review queue - its fast path and its general event loop - against an
    idiomatic SimPy model of the same M/M/c queue, and against Erlang C."""
    import math

    import numpy as np
    import simpy
    from scipy import stats

    from simulator.queueing import CaseLog, ReviewQueue, TeamSpec
    from simulator.taxonomy import N_CLASSES
    from simulator.theory import erlang_c, mmc_mean_wait

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

    def ours(general: bool) -> tuple[CaseLog, float, float, bool]:
        queue = ReviewQueue(team, np.random.default_rng(2))
        if general:
            queue.close(-1, 0.0)  # a closure (of no post) ends the fast path
        t0, c0 = time.perf_counter(), time.process_time()
        queue.submit(np.arange(n), arrivals, np.zeros(n, dtype=np.int8), np.zeros(n, dtype=bool))
        log = queue.run_until(float(arrivals[-1]) + 1000)
        # (with --against an older tree, its queue may have no fast path)
        fast_path = bool(getattr(queue, "fast_path", False))
        return log, time.perf_counter() - t0, time.process_time() - c0, fast_path

    log, fast, cpu, on_fast_path = ours(general=False)
    general_log, general, general_cpu, _ = ours(general=True)
    order = np.argsort(log.arrived, kind="stable")
    our_waits = log.wait[order]

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
    # Erlang C: mean wait and P(wait > 0), with standard errors from 20 batch means
    # (batches of thousands of cases are far longer than the correlation time).
    erlang: dict[str, float] = {}
    for name, sample, expected in (
        ("mean_wait", our_waits[warm:], mmc_mean_wait(lam, mu, c)),
        ("p_wait", (our_waits[warm:] > 0).astype(float), erlang_c(c, lam / mu)),
    ):
        means = sample[: sample.size - sample.size % 20].reshape(20, -1).mean(axis=1)
        erlang[name] = float(means.mean())
        erlang[name + "_se"] = float(means.std(ddof=1) / math.sqrt(20))
        erlang[name + "_theory"] = float(expected)
    return {
        "cases": n,
        "seconds": fast,
        "cpu_seconds": cpu,
        "general_cpu_seconds": general_cpu,
        "fast_path": on_fast_path,
        "same_log": log == general_log,
        "ours_cases_per_second": n / fast,
        "general_cases_per_second": n / general,
        "simpy_cases_per_second": n / theirs,
        "ratio": theirs / fast,
        "general_ratio": theirs / general,
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "ks_samples": len(our_waits[warm::lag]),
        **erlang,
    }


_CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "run": _child_run,
    "folder": _child_folder,
    "queue": _child_queue,
    "jurors": _child_jurors,
    **parallel.CHILDREN,  # the "parallel" group's measurements live in parallel.py
}


JUROR_REFERENCE = "373d97c"
"""The commit whose juror loop the 2x target is measured against (before the queue work)."""


class ChildFailed(RuntimeError):
    """A measurement's process failed, or was stopped at the memory cap."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"{what}: {why}")
        self.what, self.why = what, why


MEMORY_CAP_MB = 8 * 1024
"""A measurement whose process grows beyond this is stopped (``--memory-cap-gb``):
the machine is shared, and a run that would need tens of GB must not take it down."""


def _in_child(kind: str, spec: dict[str, Any], tree: Path | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh process: on ``tree``'s code if given. Its
    resident memory is watched, and the process stopped beyond ``MEMORY_CAP_MB``."""
    import psutil

    env = None
    if tree is not None:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        spec = {**spec, "root": str(tree)}
    shown = {k: v for k, v in spec.items() if k != "root"}
    what = ", ".join(
        [
            kind,
            *(
                f"{k} {Path(v).stem if isinstance(v, str) else v}"
                for k, v in shown.items()
                if not isinstance(v, list)
            ),
        ]
    )
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", kind, json.dumps(spec)],
            stdout=out,
            stderr=err,
            text=True,
            cwd=tree or ROOT,
            env=env,
        )
        watched, peak = psutil.Process(proc.pid), 0.0
        while proc.poll() is None:
            with suppress(psutil.Error):
                peak = max(peak, watched.memory_info().rss / 2**20)
            if peak > MEMORY_CAP_MB:
                proc.kill()
                proc.wait()
                raise ChildFailed(
                    what,
                    f"stopped at {peak / 1024:.1f} GB of memory after "
                    f"{time.perf_counter() - t0:.0f} s (cap {MEMORY_CAP_MB / 1024:g} GB)",
                )
            time.sleep(0.25)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise ChildFailed(what, f"exit {proc.returncode}: {stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    if tree is not None and not Path(result["code"]).is_relative_to(tree):
        raise RuntimeError(f"{kind}: ran the code in {result['code']}, not in {tree}")
    return result


@contextmanager
def _worktree(ref: str) -> Iterator[Path]:
    """A temporary detached git worktree of ``ref``, removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="modsim-bench-"))
    tree = parent / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(tree), ref],
        cwd=ROOT,
        check=True,
    )
    try:
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        shutil.rmtree(parent, ignore_errors=True)


class _Measure:
    """Runs measurements on this tree, and with ``against`` on that tree too, alternating."""

    def __init__(self, against: Path | None, repeats: int) -> None:
        self.against = against
        self.repeats = repeats

    def __call__(
        self, kind: str, spec: dict[str, Any], key: str = "cpu_seconds"
    ) -> tuple[dict[str, Any], float | None]:
        """The best run (lowest ``key``) on this tree, and the ratio new/old of ``key``."""
        if self.against is None:
            return _in_child(kind, spec), None
        new: list[dict[str, Any]] = []
        old: list[dict[str, Any]] = []
        for _ in range(self.repeats):
            new.append(_in_child(kind, spec, ROOT))
            old.append(_in_child(kind, spec, self.against))
        best_new = min(new, key=lambda r: r[key])
        best_old = min(old, key=lambda r: r[key])
        print(
            f"    {kind} {key}: new {[round(r[key], 3) for r in new]}, "
            f"old {[round(r[key], 3) for r in old]}",
            file=sys.stderr,
            flush=True,
        )
        return best_new, best_new[key] / best_old[key]


# --- the table -------------------------------------------------------------------------


GROUPS = (
    "scale",
    "folder",
    "ai",
    "text",
    "memory",
    "queue",
    "jurors",
    "thin",
    "parallel",
    "search",
    "accounts",
    "areas",
)


def main() -> None:
    global MEMORY_CAP_MB
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke check)")
    parser.add_argument(
        "--against",
        metavar="REF",
        help="a git ref: run every measurement on it too and show the ratio new/old",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per tree with --against (best kept)"
    )
    parser.add_argument(
        "--only",
        metavar="GROUPS",
        help=f"comma-separated measurement groups to run, of: {', '.join(GROUPS)}",
    )
    parser.add_argument(
        "--memory-cap-gb",
        type=float,
        default=MEMORY_CAP_MB / 1024,
        help="stop a measurement whose process grows beyond this (default: %(default)g)",
    )
    parser.add_argument(
        "--markdown",
        metavar="FILE",
        type=Path,
        help="also write the table as Markdown (with the commit, date and machine) to FILE",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    MEMORY_CAP_MB = int(args.memory_cap_gb * 1024)
    if args.child:
        kind, spec = args.child[0], json.loads(args.child[1])
        result = _CHILDREN[kind](spec)
        import simulator

        result["code"] = str(Path(simulator.__file__).resolve().parent.parent)
        print(json.dumps(result))
        return
    only = set(GROUPS) if args.only is None else set(args.only.split(","))
    if only - set(GROUPS):
        parser.error(f"--only: unknown groups {sorted(only - set(GROUPS))}; known: {GROUPS}")
    if args.against is None:
        _table(args.quick, only, _Measure(None, 1), None, args.markdown)
    else:
        with _worktree(args.against) as tree:
            _table(args.quick, only, _Measure(tree, args.repeats), args.against, args.markdown)


def _per_post(run: dict[str, Any]) -> float:
    """CPU seconds per post of a measured run."""
    return float(run["cpu_seconds"] / run["posts"])


def _table(
    quick: bool, only: set[str], measure: _Measure, against: str | None, markdown: Path | None
) -> None:
    from rich.console import Console
    from rich.table import Table

    parler = "scenarios/parler-like.yaml"
    host = "policies/host-notice-and-strike.yaml"
    rows: list[tuple[str, ...]] = []

    def add(name: str, value: str, target: str, ratio: float | None = None) -> None:
        shown = "" if ratio is None else f"{ratio:.3f}"
        rows.append((name, value, target, shown))
        vs = "" if ratio is None else f", new/old {shown}"
        print(f"  {name}: {value}  (target {target}{vs})", file=sys.stderr, flush=True)

    @contextmanager
    def failed_rows(group: str) -> Iterator[None]:
        # A measurement that fails (or is stopped at the memory cap) is a row of the
        # table saying so, not the end of the table.
        try:
            yield
        except ChildFailed as failed:
            add(f"{group}: {failed.what}", f"did not finish: {failed.why}", "")

    started = time.strftime("%Y-%m-%d %H:%M %Z") + f" (load average {os.getloadavg()[0]:.1f})"
    full_days = 14 if quick else 75
    if "scale" in only:
        with failed_rows("scale"):
            r, ratio = measure(
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
                ratio,
            )
            add(
                "scale mode throughput (jury-only)",
                f"{r['posts_per_second'] / 1e6:.2f} M posts/s",
                ">= 1 M posts/s",
            )
    if "folder" in only:
        with failed_rows("folder"):
            days = 7 if quick else 21
            for posts in ("touched", "all"):
                spec = {"scenario": parler, "policy": "policies/jury-only.yaml", "hosts": [host]}
                f, ratio = measure("folder", {**spec, "days": days, "posts": posts})
                add(
                    f"modsim run to a folder, {days} days, --posts {posts}",
                    f"{f['seconds']:.1f} s, {f['cpu_seconds']:.1f} s CPU, "
                    f"{f['rows'] / 1e6:.1f} M rows, {f['peak_mb']:.0f} MB peak",
                    "",
                    ratio,
                )
    if "ai" in only:
        with failed_rows("ai"):
            r, ratio = measure(
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
                ratio,
            )

    if "text" in only:
        with failed_rows("text"):
            text, ratio = measure(
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
                ratio,
            )

    for flat in (False, True) if "memory" in only else ():
        with failed_rows("memory"):
            mems = {}
            label = "constant volume, no surges" if flat else "the scenario's growth and surges"
            for days in (7, 35, 70) if not quick else (3, 7):
                # No host, so no suspension cuts the run short.
                spec = {"scenario": parler, "policy": "policies/jury-only.yaml", "days": days}
                m, ratio = measure("run", {**spec, "flat": flat}, key="peak_mb")
                mems[days] = m["peak_mb"]
                add(
                    f"peak memory, {days} days full scale ({label})",
                    f"{m['peak_mb']:.0f} MB ({m['posts'] / 1e6:.1f} M posts)",
                    "",
                    ratio,
                )
            first, last = min(mems), max(mems)
            add(
                f"peak memory growth {first} -> {last} days ({label})",
                f"{100 * (mems[last] / mems[first] - 1):+.1f}%",
                "within 10%",
            )
    if "memory" in only:
        with failed_rows("memory"):
            # Ten times Parler's daily volume (up to 17 M posts a day in 21 days): days
            # come in slices, and the host's possible takedown makes them wait on disk.
            days = 3 if quick else 21
            spec = {"scenario": parler, "policy": "policies/jury-only.yaml", "hosts": [host]}
            m, ratio = measure("run", {**spec, "days": days, "users_scale": 10}, key="peak_mb")
            add(
                f"peak memory, 10x Parler's daily volume, {days} days (jury-only + host)",
                f"{m['peak_mb']:.0f} MB ({m['posts'] / 1e6:.1f} M posts, "
                f"{m['cpu_seconds']:.0f} s CPU"
                + (f", suspended {m['suspended_at'][:10]})" if m["suspended_at"] else ")"),
                "< 2048 MB",
                ratio,
            )

    if "queue" in only:
        with failed_rows("queue"):
            q, ratio = measure(
                "queue", {"servers": 20, "load": 0.9, "cases": 50_000 if quick else 300_000}
            )
            path = "fast path" if q["fast_path"] else "NOT on the fast path"
            add(
                f"review queue vs SimPy (M/M/20, load 0.9; {path})",
                f"{q['ratio']:.1f}x ({q['ours_cases_per_second']:,.0f} vs "
                f"{q['simpy_cases_per_second']:,.0f} cases/s)",
                ">= 20x",
                ratio,
            )
            add(
                "review queue, general event loop, same M/M/20 vs SimPy",
                f"{q['general_ratio']:.1f}x ({q['general_cases_per_second']:,.0f} cases/s; "
                f"log {'identical to' if q['same_log'] else 'DIFFERENT from'} the fast path's)",
                "identical log",
            )
            add(
                "same wait distribution (two-sample KS vs SimPy)",
                f"D = {q['ks_statistic']:.4f}, p = {q['ks_pvalue']:.3f} "
                f"(n = {q['ks_samples']} each)",
                "p not small",
            )
            erlang = (("mean_wait", "mean wait", 3600.0), ("p_wait", "P(wait > 0)", 1))
            for name, label, unit in erlang:
                z = (q[name] - q[name + "_theory"]) / q[name + "_se"]
                scale = "s" if unit != 1 else ""
                add(
                    f"Erlang C: {label} (20 batch means after warm-up)",
                    f"{q[name] * unit:.4g}{scale} +- {q[name + '_se'] * unit:.2g} vs "
                    f"{q[name + '_theory'] * unit:.4g}{scale} (z = {z:+.2f})",
                    "|z| < 3.3",
                )

    if "jurors" in only:
        with failed_rows("jurors"):
            spec = {"cases": 20_000 if quick else 100_000, "jurors": 300, "hours": 200}
            j, ratio = measure("jurors", spec)
            add(
                "review queue with a juror pool (5 votes, 4 to remove), general loop",
                f"{j['cases_per_second']:,.0f} cases/s, {j['cpu_seconds']:.2f} s CPU",
                "",
                ratio,
            )
            # The target is a ratio to the loop before the queue work, so the table
            # measures that loop too (alternating runs, best of each), --against or not.
            with _worktree(JUROR_REFERENCE) as tree:
                _, speedup = _Measure(tree, 3)("jurors", spec)
            assert speedup is not None
            add(
                f"juror loop CPU against the loop of {JUROR_REFERENCE} (best of 3 each)",
                f"{speedup:.2f} of it ({1 / speedup:.2f}x faster)",
                "<= 0.5 (2x)",
            )

    if "thin" in only:
        with failed_rows("thin"):
            # Untouched legitimate posts counted, not drawn (content.thinning: auto).
            per_day, days = (1e7, 2) if quick else (1e9, 7)
            spec = {
                "scenario": parler,
                "policy": "policies/jury-only.yaml",
                "hosts": [host],
                "days": days,
                "posts_per_day": per_day,
                "thinning": "auto",
            }
            r, ratio = measure("run", spec)
            ended = f", suspended {r['suspended_at']}" if r["suspended_at"] else ""
            add(
                f"{per_day:.0e} posts/day x {days} days, thinned, scale mode, jury-only + host",
                f"{r['seconds']:.0f} s, {r['posts'] / 1e6:,.0f} M posts, "
                f"{r['peak_mb']:.0f} MB peak{ended}",
                "< 600 s, < 2048 MB (1e9/day, 7 days)",
                ratio,
            )

    if "parallel" in only:
        with failed_rows("parallel"):
            parallel.rows(quick, measure, add)
    elif "search" in only:  # the search row of "parallel" alone
        with failed_rows("search"):
            parallel.search_row(quick, measure, add)

    if "accounts" in only:
        with failed_rows("accounts"):
            # The same stream with and without account enforcement (authors, strikes, bans):
            # with the host (the three-strike run is not suspended, so it runs a week
            # longer) and without one (both run the whole horizon).
            for hosts in ([host], []):
                spec = {"scenario": parler, "hosts": hosts, "days": full_days}
                runs = {}
                for policy in ("jury-only", "jury-three-strikes"):
                    spec["policy"] = f"policies/{policy}.yaml"
                    runs[policy], ratio = measure("run", spec)
                    r = runs[policy]
                    add(
                        f"Parler-like, full scale, {full_days} days, {policy}"
                        + (" + host" if hosts else ", no host"),
                        f"{r['cpu_seconds']:.1f} s CPU ({r['seconds']:.0f} s wall), "
                        f"{r['posts'] / 1e6:.1f} M posts, {r['peak_mb']:.0f} MB peak",
                        "< 2048 MB",
                        ratio,
                    )
                on, off = runs["jury-three-strikes"], runs["jury-only"]
                add(
                    "accounts on / off"
                    + (" + host" if hosts else ", no host")
                    + " (CPU; CPU per post; peak memory)",
                    f"{on['cpu_seconds'] / off['cpu_seconds']:.2f}x; "
                    f"{_per_post(on) / _per_post(off):.2f}x; "
                    f"{on['peak_mb'] / off['peak_mb']:.2f}x",
                    "< 1.5x",
                )

    if "areas" in only:
        with failed_rows("areas"):
            # Policy areas: five areas with one card, and three cards per area, against the
            # same world on the default five classes at the same volume (one card).
            general = {"scenario": "scenarios/general-platform.yaml", "days": 2 if quick else 7}
            if not quick:
                general["posts_per_day"] = 1e6
            runs = {}
            for label, extra in (
                ("five classes, one card", {"five_classes": True}),
                ("five areas, one card", {}),
                ("five areas, a card per area", {"policy": "policies/general-per-area.yaml"}),
            ):
                spec = {**general, "policy": "policies/general-shared-staff.yaml", **extra}
                runs[label], ratio = measure("run", spec)
                r = runs[label]
                add(
                    f"general platform, {general['days']} days, {label}",
                    f"{r['cpu_seconds']:.1f} s CPU, {r['posts'] / 1e6:.2f} M posts, "
                    f"{r['peak_mb']:.0f} MB peak",
                    "",
                    ratio,
                )
            base = runs["five classes, one card"]
            for label in ("five areas, one card", "five areas, a card per area"):
                r = runs[label]
                add(
                    f"{label} / five classes (CPU per post; peak memory)",
                    f"{_per_post(r) / _per_post(base):.2f}x; {r['peak_mb'] / base['peak_mb']:.2f}x",
                    "< 1.5x",
                )

    title = "modsim benchmarks" + (" (--quick)" if quick else "")
    table = Table(title=title)
    columns = ["measure", "result", "target"]
    if against is not None:
        columns.append(f"new/old vs {against}")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row[: len(columns)])
    Console().print(table)
    if markdown is not None:
        markdown.write_text(_markdown(columns, rows, title, started))


def _markdown(columns: list[str], rows: list[tuple[str, ...]], title: str, started: str) -> str:
    """The table in Markdown, headed by what it was measured on."""
    import platform

    commit = subprocess.run(
        ["git", "log", "-1", "--format=%h %cs"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    cell = lambda text: text.replace("|", "\\|")  # noqa: E731
    lines = [
        f"{title}: commit {commit}{' (with local changes)' if dirty else ''}, started "
        f"{started}, {os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
        f"at the end {os.getloadavg()[0]:.1f}",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(cell(c) for c in row[: len(columns)]) + " |" for row in rows),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
