"""The ``parallel`` group of ``benchmarks/run.py``: how well two workers scale.

* the bundled batch and a comparison with 1 and with 2 workers (target: 2
  workers >= 1.7x faster);
* text mode on both cores (``simulate(..., workers=2)``; >= 20,000 posts/s);
* the bundled policy search with 2 workers (< 3 minutes);
* the imports of the ``modsim run`` path (< 1 s).

Each figure is measured in a process of its own. On a machine other jobs
share, wall times say little, so each experiment also reports the CPU time of
every process it started (polled with psutil): "if each worker had a core" is
the single-worker CPU time over the busiest process's CPU time in the
two-worker run, which is the speed-up an otherwise idle 2-core machine gives
when the work splits evenly.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN_PATH = "simulator.cli, simulator.api, simulator.engine, simulator.folders.run"
"""What ``modsim run`` imports before it simulates."""


@contextmanager
def _process_tree_cpu() -> Iterator[dict[str, float]]:
    """CPU seconds of this process and of every child it starts (by pid), polled
    every 0.1 s while the block runs; filled in when the block ends."""
    import psutil

    me = psutil.Process()
    seen: dict[int, float] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.1):
            for child in me.children(recursive=True):
                try:
                    t = child.cpu_times()
                    seen[child.pid] = t.user + t.system
                except psutil.Error:
                    pass

    own0 = time.process_time()
    out: dict[str, float] = {}
    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        own = time.process_time() - own0
        out["cpu_seconds"] = own + sum(seen.values())
        out["busiest_seconds"] = max([own, *seen.values()])
        out["processes"] = 1 + len(seen)


def _experiment(spec: dict[str, Any]) -> dict[str, Any]:
    """A batch, a comparison or a search with ``spec["workers"]`` workers."""
    import simulator
    from simulator.config import load_file

    root = Path(spec.get("root", ROOT))
    execution = simulator.Execution(workers=spec["workers"])
    kind = spec["kind"]
    with tempfile.TemporaryDirectory() as tmp, _process_tree_cpu() as cpu:
        t0 = time.perf_counter()
        if kind == "batch":
            path = root / "batches/jury-size.yaml"
            batch = load_file(path).model
            batch = batch.model_copy(update={"seeds": spec["seeds"]})
            result = simulator.run_batch(batch, base_dir=path.parent, execution=execution)
            units = len(result.cells)
        elif kind == "compare":
            result = simulator.compare(
                root / "scenarios/quick.yaml",
                [root / "policies/jury-only.yaml", root / "policies/jury-plus-ai.yaml"],
                hosts=[root / "policies/host-notice-and-strike.yaml"],
                seeds=spec["seeds"],
                execution=execution,
            )
            units = len(result.cells)
        else:
            search = simulator.optimize(
                root / "examples/parler-not-suspended.yaml",
                out=Path(tmp) / "search",
                trials=spec.get("trials"),
                execution=execution,
            )
            units = int(search.runs)
        seconds = time.perf_counter() - t0
    failed = len(result.failed) if kind != "optimize" else 0
    return {"seconds": seconds, "units": units, "failed": failed, **cpu}


def _text(spec: dict[str, Any]) -> dict[str, Any]:
    """Text mode (ai-first on the quick world at twice its users) with ``workers``."""
    sys.path.insert(0, str(Path(__file__).parent))
    from run import _scenario  # the text-mode world of the "text" group

    from simulator.api import simulate
    from simulator.config import load_policy
    from simulator.seeding import SeedTree
    from simulator.stages.prefilter import classifier_for

    root = Path(spec.get("root", ROOT))
    sc = _scenario({**spec, "scenario": "scenarios/quick.yaml", "users_scale": 2.0})
    policy = load_policy(root / "policies/ai-first.yaml").model
    classifier_for(policy.prefilter, sc, SeedTree(0))  # trained before the clock starts
    with _process_tree_cpu() as cpu:
        t0 = time.perf_counter()
        result = simulate(sc, policy, seed=0, workers=spec["workers"])
        seconds = time.perf_counter() - t0
    posts = result.summary["posts"]["created"]
    return {"seconds": seconds, "posts": posts, "posts_per_second": posts / seconds, **cpu}


_OWN_CPU = (
    "import resource; r = resource.getrusage(resource.RUSAGE_SELF); print(r.ru_utime + r.ru_stime)"
)


def _imports(spec: dict[str, Any]) -> dict[str, Any]:
    """The best of five: total import time (``-X importtime``) of the run path.

    With bytecode cached, as after any install (pip compiles it): the first of
    the five writes it even where ``PYTHONDONTWRITEBYTECODE`` is set, which would
    otherwise have every run compile the package from source (about 0.2 s)."""
    env = {**os.environ, "PYTHONPATH": str(spec.get("root", ROOT))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    best, best_cpu = float("inf"), float("inf")
    for _ in range(5):
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {RUN_PATH}"],
            capture_output=True,
            text=True,
            check=True,
            cwd=tempfile.gettempdir(),  # not the tree: '' comes first on sys.path
            env=env,
        ).stderr
        top = re.findall(r"^import time:\s+\d+ \|\s+(\d+) \| \S", err, flags=re.M)
        best = min(best, sum(int(us) for us in top) / 1e6)
        # The CPU of the interpreter once the imports are done (start-up included,
        # exit not), without -X importtime's own cost: what a shared machine leaves readable.
        cpu = float(
            subprocess.run(
                [sys.executable, "-c", f"import {RUN_PATH}\n{_OWN_CPU}"],
                capture_output=True,
                text=True,
                check=True,
                cwd=tempfile.gettempdir(),
                env=env,
            ).stdout
        )
        best_cpu = min(best_cpu, cpu)
    return {"seconds": best, "cpu_seconds": best_cpu}


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "parallel_experiment": _experiment,
    "parallel_text": _text,
    "parallel_imports": _imports,
}


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def rows(quick: bool, measure: Any, add: Callable[..., None]) -> None:
    """Measure the group and ``add`` its rows (``measure`` and ``add`` are run.py's)."""
    seeds = {"batch": 2 if quick else 5, "compare": 3 if quick else 8}
    for kind in ("batch", "compare"):
        one, _ = measure("parallel_experiment", {"kind": kind, "workers": 1, "seeds": seeds[kind]})
        two, ratio = measure(
            "parallel_experiment", {"kind": kind, "workers": 2, "seeds": seeds[kind]}
        )
        what = "batches/jury-size.yaml" if kind == "batch" else "compare quick, 2 policies"
        add(
            f"{what}, {two['units']} cells, 2 workers vs 1 ({_load()})",
            f"{one['seconds'] / two['seconds']:.2f}x on the clock; "
            f"{one['cpu_seconds'] / two['busiest_seconds']:.2f}x if each worker had a core "
            f"(CPU {one['cpu_seconds']:.0f} s vs {two['cpu_seconds']:.0f} s in all)",
            ">= 1.7x",
            ratio,
        )
    days = 2 if quick else 7
    one, _ = measure("parallel_text", {"workers": 1, "days": days})
    two, ratio = measure("parallel_text", {"workers": 2, "days": days})
    add(
        f"text mode (ai-first, quick x2), 2 processes vs 1 ({_load()})",
        f"{two['posts_per_second']:,.0f} vs {one['posts_per_second']:,.0f} posts/s on the "
        f"clock; {two['posts'] / two['busiest_seconds']:,.0f} posts/s if each had a core",
        ">= 20,000 posts/s",
        ratio,
    )
    search_row(quick, measure, add)
    imports, ratio = measure("parallel_imports", {})
    add(
        "imports of the `modsim run` path",
        f"{imports['seconds']:.2f} s (-X importtime); {imports['cpu_seconds']:.2f} s CPU",
        "< 1 s",
        ratio,
    )


def search_row(quick: bool, measure: Any, add: Callable[..., None]) -> None:
    """The bundled policy search with 2 workers (also ``--only search`` alone)."""
    search, ratio = measure(
        "parallel_experiment", {"kind": "optimize", "workers": 2, "trials": 4 if quick else None}
    )
    add(
        f"bundled policy search, 2 workers, {search['units']} runs ({_load()})",
        f"{search['seconds'] / 60:.1f} min on the clock; "
        f"{search['busiest_seconds'] / 60:.1f} min if each worker had a core "
        f"(CPU {search['cpu_seconds'] / 60:.1f} min in all)",
        "< 3 min (16 trials)",
        ratio,
    )
