"""Parallel that scales (issue 20): each trained model is built once per
experiment and shipped to the workers; a worker that dies, or a script that
would start workers from its top level, raises a clear error instead of
hanging or returning empty tables; the CLI starts without the heavy libraries.

Subprocesses carry a ``timeout`` as a safety net only: no test asserts a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import ROOT
from pandas.testing import assert_frame_equal

from simulator.classifier.parallel import MIN_TEXTS_TO_SPLIT, ParallelScorer
from simulator.classifier.training import TrainedClassifier
from simulator.errors import ModsimError
from simulator.experiments import compare
from simulator.experiments.execution import Execution
from simulator.experiments.executors import Outcome, ProcessExecutor, SerialExecutor
from simulator.experiments.models import Shipped

JURY = str(ROOT / "policies/jury-only.yaml")
AI = str(ROOT / "policies/jury-plus-ai.yaml")
HOST = str(ROOT / "policies/host-notice-and-strike.yaml")
SAFETY_NET = 600  # seconds: only so that a regression cannot hang the suite


def _python(script: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=script.parent,
        env=env,
        timeout=SAFETY_NET,
        check=False,
    )


# A script without a main guard -------------------------------------------------------


def _small_ai_policy(folder: Path) -> Path:
    path = folder / "ai.yaml"
    text = (ROOT / "policies/ai-first.yaml").read_text()
    path.write_text(text.replace("train_per_class: 2000", "train_per_class: 100"))
    return path


SCRIPTS = {
    "compare": """
        import simulator
        result = simulator.compare(
            {world!r}, [{jury!r}, {ai!r}], seeds=2, execution=simulator.Execution(workers=2)
        )
        print("tables", len(result.table))
    """,
    "simulate": """
        import simulator
        result = simulator.simulate({world!r}, {ai!r}, workers=2)
        print("posts", result.summary["posts"]["created"])
    """,
}


@pytest.mark.parametrize("call", list(SCRIPTS))
def test_a_script_without_a_main_guard_gets_a_clear_error_not_a_hang(
    call: str, tiny_world: Path, tmp_path: Path
) -> None:
    world = tiny_world
    if call == "simulate":  # text mode, so that scoring workers would start
        world = tmp_path / "text.yaml"
        world.write_text(tiny_world.read_text().replace("mode: sampled", "mode: text"))
    code = SCRIPTS[call].format(world=str(world), jury=JURY, ai=str(_small_ai_policy(tmp_path)))
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent(code))
    done = _python(script)
    assert done.returncode != 0
    assert "tables" not in done.stdout and "posts" not in done.stdout
    assert "ModsimError" in done.stderr
    assert f"{script}, line 3" in done.stderr  # the call, at the script's top level
    assert 'if __name__ == "__main__":' in done.stderr


GUARD_CHECK = """
    from simulator.spawning import check_can_spawn

    def main():
        check_can_spawn("2 worker processes")
        print("may start workers")

    {call}
"""


@pytest.mark.parametrize(
    ("call", "allowed"),
    [
        ('if __name__ == "__main__":\n        main()', True),
        ("if '__main__' == __name__:\n        main()", True),
        ("main()", False),
        ('if __name__ != "__main__":\n        pass\n    else:\n        main()', False),
    ],
)
def test_the_main_guard_is_read_from_the_script(call: str, allowed: bool, tmp_path: Path) -> None:
    script = tmp_path / "guard.py"
    script.write_text(textwrap.dedent(GUARD_CHECK.format(call=call)))
    done = _python(script)
    if allowed:
        assert done.returncode == 0, done.stderr
        assert "may start workers" in done.stdout
    else:
        assert done.returncode != 0
        assert "this script starts 2 worker processes at its top level" in done.stderr


# A worker that dies ---------------------------------------------------------------


class _DiesInWorker:
    """A "pipeline" that scores in this process and kills any worker that uses it."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        import multiprocessing

        if multiprocessing.parent_process() is not None:
            os._exit(3)
        # A moment for the worker to take its chunks: this process scores whatever
        # no worker has taken yet, so a fake as fast as this could take them all.
        time.sleep(0.01)
        return np.tile([0.5, 0.5], (len(texts), 1))


def test_a_scoring_worker_that_dies_raises() -> None:
    classifier = TrainedClassifier(_DiesInWorker(), validation=None)  # type: ignore[arg-type]
    texts = [f"post {i}" for i in range(2 * MIN_TEXTS_TO_SPLIT)]
    deadline = time.monotonic() + SAFETY_NET
    with (
        ParallelScorer(classifier, workers=2) as scorer,
        pytest.raises(ModsimError, match="a scoring worker process stopped"),
    ):
        # Until the worker has loaded the model, this process scores every call
        # alone; the first call the worker takes part in kills it, and raises.
        while time.monotonic() < deadline:
            scorer.score(texts)


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_scores_are_those_of_one_process_whatever_the_split(workers: int) -> None:
    classifier = TrainedClassifier(_ByLength(), validation=None)  # type: ignore[arg-type]
    with ParallelScorer(classifier, workers=workers) as scorer:
        # The workers take chunks only once one has loaded the model.
        scorer._ready.result(timeout=SAFETY_NET)  # type: ignore[union-attr]
        for n in (MIN_TEXTS_TO_SPLIT - 1, MIN_TEXTS_TO_SPLIT, 5 * MIN_TEXTS_TO_SPLIT + 7):
            texts = [f"post {'x' * (i % 97)} {i}" for i in range(n)]
            assert np.array_equal(scorer.score(texts), classifier.score(texts))


class _ByLength:
    """A "pipeline" whose score of a text is its length over 200, in any process."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        import multiprocessing

        if multiprocessing.parent_process() is None:
            time.sleep(0.02)  # the workers' turn to take chunks
        p = np.array([len(t) / 200 for t in texts])
        return np.column_stack([1 - p, p])


# Models built once per experiment ------------------------------------------------------


class _Recording(ProcessExecutor):
    """Local processes that note what was submitted, and how many outcomes had
    come back by then."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.calls: list[tuple[str, Any, int]] = []
        self._back = 0

    def submit(self, fn: Callable[[Any], Any], item: Any) -> int:
        self.calls.append((getattr(fn, "__name__", ""), item, self._back))
        return super().submit(fn, item)

    def completed(self) -> Iterator[Outcome[Any]]:
        for outcome in super().completed():
            self._back += 1
            yield outcome


@dataclass(frozen=True)
class _Shipping:
    """A recorded experiment on two local processes, and its policies."""

    calls: tuple[tuple[str, Any, int], ...]
    result: Any
    policies: tuple[str, str]


@pytest.fixture(scope="module")
def shipping(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> _Shipping:
    """One experiment (jury, and jury plus a trained prefilter; three seeds) run on two
    recording processes: what both tests below read (and never change). The prefilter
    trains on 100 texts a class: which models are built and when they ship does not
    depend on how many texts train them."""
    folder = tmp_path_factory.mktemp("shipping")
    ai = folder / "jury-plus-ai.yaml"
    text = (ROOT / "policies/jury-plus-ai.yaml").read_text()
    ai.write_text(text.replace("train_per_class: 2000", "train_per_class: 100"))
    policies = (JURY, str(ai))
    executor = _Recording(2)
    result = compare(
        tiny_world, list(policies), [HOST], seeds=3, execution=Execution(executor=executor)
    )
    return _Shipping(tuple(executor.calls), result, policies)


def test_each_seeds_model_is_built_once_and_shipped_with_its_cells(
    tiny_world: Path, shipping: _Shipping
) -> None:
    seeds = 3
    shipped = shipping.result
    builds = [item for name, item, _ in shipping.calls if name == "_build"]
    tasks = [item for name, item, _ in shipping.calls if name == "run_shipped"]
    assert len(builds) + len(tasks) == len(shipping.calls)
    assert len(builds) == seeds  # one classifier per replication seed, not per cell or worker
    assert {b.cell.seed for b in builds} == set(shipped.cells["seed"])
    assert len(tasks) == 2 * seeds
    for task in tasks:
        assert isinstance(task, Shipped)
        trains = task.cell.policy.prefilter.enabled
        assert (task.models is not None) == trains
    serial = compare(
        tiny_world,
        list(shipping.policies),
        [HOST],
        seeds=seeds,
        execution=Execution(executor=SerialExecutor()),
    )
    assert_frame_equal(shipped.table, serial.table)
    assert_frame_equal(shipped.cells, serial.cells)


def test_cells_start_as_soon_as_their_model_is_built_and_the_others_at_once(
    shipping: _Shipping,
) -> None:
    """No round waits for its slowest build: a worker that is not training runs
    the cells that need no model, and each model's cells go out when it is in."""
    for name, item, back in shipping.calls:
        if name == "_build" or not item.cell.policy.prefilter.enabled:
            assert back == 0, f"{name} {item.cell.labels} waited for {back} outcomes"
    ai_sent = [
        back
        for name, item, back in shipping.calls
        if name == "run_shipped" and item.cell.policy.prefilter.enabled
    ]
    # The first model's cell goes out with that model, not once all three are built.
    assert min(ai_sent) < 3


def test_one_worker_trains_each_seeds_model_once_too(
    tiny_world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the main process (``workers=1``) two policies sharing a seed's model
    train it once, not once per cell: the 1-worker baseline of a speed-up pays
    what the workers pay."""
    from simulator.stages import prefilter
    from simulator.stages.trained import Recent

    trained: list[int] = []
    real = prefilter.train_synthetic

    def counting(rng: Any, **options: Any) -> Any:
        trained.append(options["n_per_class"])
        return real(rng, **options)

    monkeypatch.setattr(prefilter, "_SYNTHETIC", Recent(8))  # nothing from other tests
    monkeypatch.setattr(prefilter, "train_synthetic", counting)
    small = _small_ai_policy(tmp_path)
    other = tmp_path / "ai-bigger-jury.yaml"
    other.write_text(small.read_text().replace("name: ai-first", "name: ai-first-bigger-jury", 1))
    compare(tiny_world, [small, other], [HOST], seeds=2, execution=Execution(workers=1))
    assert trained == [100, 100]  # one per seed, for 4 cells


PARENT = """
    import sys
    import simulator

    if __name__ == "__main__":
        result = simulator.compare(
            {world!r}, [{jury!r}, {ai!r}], seeds=2, execution=simulator.Execution(workers=2)
        )
        print(len(result.failed), "sklearn" in sys.modules)
"""


def test_the_parent_of_a_parallel_experiment_trains_nothing_and_loads_no_classifier(
    tiny_world: Path, tmp_path: Path
) -> None:
    """The workers train and run; the parent only groups cells by the model they
    need, which must not cost it scikit-learn's import (seconds of CPU)."""
    ai = _small_ai_policy(tmp_path)
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(PARENT.format(world=str(tiny_world), jury=JURY, ai=str(ai))))
    done = _python(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "False"]


# A worker that dies while building a model -------------------------------------------------


def _dies_building(task: Any) -> Any:
    """Stands in for the model build: kills the worker process that runs it."""
    os._exit(3)


class _BuildsDie(ProcessExecutor):
    def submit(self, fn: Callable[[Any], Any], item: Any) -> int:
        build = getattr(fn, "__name__", "") == "_build"
        return super().submit(_dies_building if build else fn, item)


def test_a_worker_that_dies_fails_the_cells_and_never_hangs(tiny_world: Path) -> None:
    """The pool breaks while the models are built; the cells sent after that
    fail with the reason (a re-run with ``out`` tries them again) instead of
    hanging the experiment or crashing it with a traceback."""
    result = compare(
        tiny_world, [JURY, AI], [HOST], seeds=2, execution=Execution(executor=_BuildsDie(2))
    )
    assert len(result.cells) == 4
    failed = result.failed
    assert set(failed["policy"]) >= {"jury-plus-ai"}
    assert failed["error"].str.contains("BrokenProcessPool").all()


# A dask cluster whose workers all die ------------------------------------------------------


def test_a_dask_cluster_left_with_no_worker_fails_what_is_left_and_never_hangs() -> None:
    """The only worker (no nanny to restart it) is killed while an item runs:
    the finished item keeps its result, the running one and one submitted
    after fail with the reason, instead of the client waiting forever for a
    worker (what it did before)."""
    distributed = pytest.importorskip("distributed")
    import threading
    import time

    from simulator.experiments.executors import DaskExecutor

    with distributed.LocalCluster(
        n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    ) as cluster:
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
             "--no-nanny", "--nthreads", "1", "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            outcomes: list[Outcome[Any]] = []

            def run() -> None:
                with DaskExecutor(cluster.scheduler_address, no_workers_timeout=1.0) as executor:
                    assert executor._client is not None
                    executor._client.wait_for_workers(1, timeout=60)
                    executor.submit(time.sleep, 0.0)
                    executor.submit(time.sleep, 600.0)
                    for outcome in executor.completed():
                        outcomes.append(outcome)
                        if outcome.index == 0:
                            worker.kill()  # the other item is running on it
                            executor.submit(time.sleep, 0.0)

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            thread.join(timeout=120)  # a liveness bound, not a speed target
            assert not thread.is_alive(), "the executor waited for a worker that never came"
        finally:
            worker.kill()
            worker.wait()
    assert [o.index for o in outcomes] == [0, 1, 2]
    assert outcomes[0].error is None
    for outcome in outcomes[1:]:
        assert outcome.error is not None and "has had no worker for 1 s" in outcome.error


def test_how_long_a_cluster_may_have_no_worker_follows_dask_settings() -> None:
    """Our default, dask's own setting when one is made, and the caller's above both."""
    dask = pytest.importorskip("dask")
    from simulator.experiments.executors import NO_WORKERS_TIMEOUT, DaskExecutor

    assert DaskExecutor("tcp://127.0.0.1:1")._patience() == NO_WORKERS_TIMEOUT
    with dask.config.set({"distributed.scheduler.no-workers-timeout": "2 minutes"}):
        assert DaskExecutor("tcp://127.0.0.1:1")._patience() == 120.0
        assert DaskExecutor("tcp://127.0.0.1:1", no_workers_timeout=5)._patience() == 5.0


# Imports ----------------------------------------------------------------------------

HEAVY = (
    "scipy.stats",
    "matplotlib",
    "optuna",
    "dask",
    "distributed",
    "sklearn",
    "skops",
    "SALib",
    "jinja2",
)
RUN_PATHS = {
    "modules": "import simulator.cli, simulator.api, simulator.engine, simulator.folders.run",
    # the command itself, as `python -m simulator run --help` starts it
    "command": (
        "import runpy\n"
        "sys.argv = ['modsim', 'run', '--help']\n"
        "try:\n"
        "    runpy.run_module('simulator', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass"
    ),
}


@pytest.mark.parametrize("path", list(RUN_PATHS))
def test_the_cli_and_a_runs_modules_start_without_the_heavy_libraries(path: str) -> None:
    """What `modsim run` imports before it simulates: the CLI, the engine, the
    run's folder. Plots, searches, clusters and the classifier come when used."""
    code = (
        f"import sys\n{RUN_PATHS[path]}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=SAFETY_NET,
        check=True,
    )
    assert "Usage" in done.stdout or path == "modules"
    assert done.stdout.strip().splitlines()[-1] == "[]"
