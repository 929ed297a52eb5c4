"""Tests of the cost model, the policy search and the robustness study."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import ROOT, Counting, bundled, optimization_doc, tweak, write_doc
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

import simulator
from simulator.cli import app
from simulator.config import Optimization, PlatformPolicy, load_file
from simulator.errors import ConfigError
from simulator.experiments.design import make_cell, replication_seed, run_cell
from simulator.experiments.execution import Execution
from simulator.experiments.executors import RemoteExecutor, SerialExecutor
from simulator.experiments.feasibility import FAILS, HOLDS, decide, one_sided, run_metrics
from simulator.experiments.fields import apply_values, changes
from simulator.experiments.robustness import robustness
from simulator.studies import optimize

SEEDS = [0, 1, 2]


# Cost model ---------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_cost_follows_hours_posts_and_rates(seed: int, quick_sampled: Any) -> None:
    policy = tweak(
        bundled("policies/ai-first.yaml"),
        costs__staff_hourly=12.0,
        costs__classifier_per_1000_posts=2.0,
        costs__per_wrongful_removal=3.0,
    )
    s = simulator.simulate(quick_sampled, policy, seed=seed).summary
    c = s["cost"]
    staff = s["review"]["staff"]
    assert c["staff_hours_paid"] == pytest.approx(staff["reviewer_hours_available"])
    assert c["staff_hours_used"] == pytest.approx(staff["reviewer_hours_used"])
    assert c["staff_hours_used"] <= c["staff_hours_paid"]
    expected = {
        "staff": 12.0 * staff["reviewer_hours_available"],
        "classifier": 2.0 * s["posts"]["created"] / 1000,
        "wrongful_removals": 3.0 * s["legitimate"]["wrongly_removed"],
    }
    for item, amount in expected.items():
        assert c["by_item"][item] == pytest.approx(amount, rel=1e-6)
    assert c["total"] == pytest.approx(sum(expected.values()), rel=1e-6)
    assert c["per_day"] == pytest.approx(c["total"] / s["run"]["days_simulated"], rel=1e-6)
    assert c["per_1000_posts"] == pytest.approx(1000 * c["total"] / s["posts"]["created"], rel=1e-6)


def test_volunteer_hours_are_counted_and_valued_only_on_request(
    quick_sampled: Any, jury_only: PlatformPolicy
) -> None:
    free = simulator.simulate(quick_sampled, jury_only, seed=1).summary["cost"]
    valued = simulator.simulate(
        quick_sampled, tweak(jury_only, costs__juror_hourly=5.0), seed=1
    ).summary["cost"]
    assert free["juror_hours_on_duty"] > free["juror_hours_used"] > 0
    assert free["total"] == 0.0  # no prefilter, no staff, volunteers not valued
    assert valued["total"] == pytest.approx(5.0 * free["juror_hours_on_duty"], rel=1e-6)
    assert valued["posts_scored"] == 0


def test_run_report_states_the_cost(quick_sampled: Any, ai_first: PlatformPolicy) -> None:
    from simulator.report.markdown import render_markdown

    md = render_markdown(simulator.simulate(quick_sampled, ai_first, seed=0))
    assert "## What moderation cost" in md
    assert "| paid staff |" in md


# Intervals that decide constraints -------------------------------------------------
@pytest.mark.parametrize("n", [3, 7, 20])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_zero_events_give_the_exact_binomial_bound(n: int, confidence: float) -> None:
    b = one_sided([0.0] * n, "<=", confidence)
    assert b["upper"] == pytest.approx(1 - (1 - confidence) ** (1 / n))
    assert b["lower"] == 0.0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["binary", "normal"])
def test_one_sided_bounds_cover_the_truth_as_often_as_promised(seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    confidence, reps, n = 0.9, 400, 8
    truth = 0.3 if kind == "binary" else 5.0
    covered = 0
    for _ in range(reps):
        x = rng.random(n) < truth if kind == "binary" else rng.normal(truth, 2.0, n)
        covered += one_sided(x.astype(float), "<=", confidence)["upper"] >= truth
    # Clopper-Pearson is conservative, Student t exact: coverage >= 90% up to
    # sampling error (3 standard errors of a share over 400 repetitions).
    assert covered / reps >= confidence - 3 * math.sqrt(confidence * (1 - confidence) / reps)


def test_decide_says_holds_fails_or_undecided() -> None:
    assert decide([0.0] * 7, "<=", 0.3, 0.9)["status"] == HOLDS
    assert decide([0.0] * 6, "<=", 0.3, 0.9)["status"] == "undecided"
    assert decide([1.0] * 4, "<=", 0.3, 0.9)["status"] == FAILS
    assert decide([0.95, 0.97, 0.96], ">=", 0.9, 0.95)["status"] == HOLDS
    assert decide([0.5, 0.6, 0.55], ">=", 0.9, 0.95)["status"] == FAILS
    held = decide([0.0] * 7, "<=", 0.3, 0.9)
    assert held["margin"] <= 0 < decide([0.0] * 6, "<=", 0.3, 0.9)["margin"]


# Fields by path -------------------------------------------------------------------
def test_a_threshold_can_be_searched_as_a_target(jury_plus_ai: PlatformPolicy) -> None:
    p = apply_values(jury_plus_ai, {"prefilter.auto_remove_above.precision": 0.95})
    assert p.prefilter.auto_remove_above.precision == 0.95  # type: ignore[union-attr]
    diff = changes(jury_plus_ai, p, ["prefilter.auto_remove_above.precision", "jury.pool_size"])
    assert diff == ["prefilter.auto_remove_above.precision: 0.9 -> 0.95"]


def test_fields_of_a_disabled_section_are_not_changes(jury_only: PlatformPolicy) -> None:
    p = apply_values(jury_only, {"prefilter.delay_minutes": 1.0, "jury.pool_size": 10})
    assert changes(jury_only, p, ["prefilter.delay_minutes", "jury.pool_size"]) == [
        "jury.pool_size: 1000 -> 10"
    ]


# The Optimization document ------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"constraints": ["jury_backlog <= 5"]}, "unknown metric 'jury_backlog'"),
        ({"constraints": ["suspended < 1"]}, "expected 'metric <= number'"),
        ({"objectives": [{"metric": "cheapness"}]}, "unknown metric 'cheapness'"),
        ({"search": {"days": {"low": 1, "high": 3}}}, "a search varies policy fields only"),
        ({"search": {"jury.pool_size": {"low": 5}}}, "needs both `low` and `high`"),
        ({"seeds": {"min": 5, "max": 3}}, "max \\(3\\) is below min \\(5\\)"),
    ],
)
def test_bad_documents_are_refused_with_file_and_field(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = write_doc(tmp_path, optimization_doc(**change))
    with pytest.raises(ConfigError, match=message) as info:
        load_file(path)
    assert info.value.file is not None and info.value.line is not None


def test_bundled_example_is_valid() -> None:
    from simulator.experiments.problem import load_problem

    path = ROOT / "examples/parler-not-suspended.yaml"
    spec = load_file(path).model
    assert isinstance(spec, Optimization)
    assert spec.robustness is not None
    problem = load_problem(spec, path.parent)  # the overrides apply to the bundled files
    assert problem.scenario.days == 12
    assert not problem.base.prefilter.enabled
    # thinned: a run costs a third (the same results in distribution, see the README)
    assert problem.scenario.content.thinning == "auto"


# The search -----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_recommended_policy_is_feasible_with_fresh_seeds(tmp_path: Path, seed: int) -> None:
    path = write_doc(tmp_path, optimization_doc(seed=seed))
    result = optimize(path, execution=Execution(executor=SerialExecutor()))
    assert result.recommended is not None
    rec = result.recommendation
    assert rec is not None and rec["feasible"]
    assert rec["jury_backlog_max <= 50 | status"] == HOLDS
    # Candidates that are too small were found out, and the answer is cheaper
    # than a larger jury that also holds: the search did trade cost off.
    trials = result.trials
    assert (trials["jury_backlog_max <= 50 | status"] == FAILS).any()
    feasible = trials[trials["feasible"]]
    assert rec["cost_per_day"] == feasible["cost_per_day"].min()
    # Fresh seeds, never used by the search: the constraint is not shown to fail.
    spec = result.spec
    fresh = [replication_seed(10_000 + seed, i) for i in range(8)]
    scenario = apply_values(bundled("scenarios/quick.yaml"), {"content.texts.mode": "sampled"})
    host = bundled("policies/host-notice-and-strike.yaml")
    values = []
    for i, s in enumerate(fresh):
        cell = make_cell(scenario, result.recommended, [host], i, s)
        values.append(run_metrics(run_cell(cell).summary)["jury_backlog_max"])  # type: ignore[arg-type]
    assert decide(values, "<=", 50.0, spec.seeds.confidence)["status"] != FAILS
    # The written policy is a valid PlatformPolicy with the recommended values.
    assert isinstance(result.recommended, PlatformPolicy)
    assert result.recommended.jury.pool_size == rec["params"]["jury.pool_size"]


def test_an_interrupted_search_resumes_without_repeating_finished_work(tmp_path: Path) -> None:
    path = write_doc(tmp_path, optimization_doc(trials=6))
    out = tmp_path / "out"
    first = Counting(stop_after=5)
    with pytest.raises(KeyboardInterrupt):
        optimize(path, out=out, execution=Execution(executor=first))
    finished = {p.stem for p in (out / "cells").glob("*.json")}
    assert len(finished) == 5  # every run finished before the interruption was kept
    second = Counting()
    result = optimize(path, out=out, execution=Execution(executor=second))
    assert not set(second.ran) & finished, "a finished run was repeated"
    complete = result.trials[result.trials["state"] == "COMPLETE"]
    assert len(complete) == 6
    # A third call has nothing left to do.
    third = Counting()
    again = optimize(path, out=out, execution=Execution(executor=third))
    assert third.ran == [] and again.resumed_trials == 6
    assert (out / "trials.csv").is_file() and (out / "pareto.png").is_file()


class Scrambled(RemoteExecutor):
    """``workers`` workers that finish in any order: items run in this process,
    each wait running one of the ``workers`` oldest not run yet, drawn at random."""

    name = "scrambled"

    def __init__(self, workers: int, seed: int) -> None:
        super().__init__()
        self.workers = workers
        self._rng = random.Random(seed)
        # each item waiting, with the candidate it runs and the waits done before it came
        self._todo: list[tuple[Future[Any], Callable[[Any], Any], Any, int, int]] = []
        self._waits = 0
        self._seen: set[int] = set()
        self.out_of_order = 0
        """Waits that ran an item submitted after one still waiting."""
        self.overlaps = 0
        """New candidates whose first run came while a run of another, submitted
        before some run finished, still waited: no round ended before they started."""

    def _future(self, fn: Callable[[Any], Any], item: Any) -> Future[Any]:
        pool = item.cell.policy.jury.pool_size  # the candidate: its searched value
        if pool not in self._seen:
            self.overlaps += any(p != pool and w < self._waits for *_, p, w in self._todo)
            self._seen.add(pool)
        future: Future[Any] = Future()
        self._todo.append((future, fn, item, pool, self._waits))
        return future

    def _wait(self) -> list[Any]:
        i = self._rng.randrange(min(self.workers, len(self._todo)))
        self.out_of_order += i > 0
        self._waits += 1
        future, fn, item, *_ = self._todo.pop(i)
        future.set_result(fn(item))
        return super()._wait()


def _pool_search(tiny_world: Path, folder: Path) -> Path:
    """A 10-candidate search over the jury's size on a one-day world (two seeds
    each): enough candidates for TPE to take over from its 8 random ones."""
    doc = optimization_doc(
        scenario=str(tiny_world),
        search={"jury.pool_size": {"low": 20, "high": 640, "step": 20, "integer": True}},
        trials=10,
        seeds={"min": 2, "max": 2, "step": 1},
    )
    return write_doc(folder, doc)


@pytest.fixture(scope="module")
def serial_pool_search(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("serial")
    return optimize(
        _pool_search(tiny_world, folder), execution=Execution(executor=SerialExecutor())
    )


@pytest.mark.parametrize(("workers", "seed"), [(2, 0), (3, 1)])
def test_candidates_overlap_and_give_the_same_trials_on_any_number_of_workers(
    tiny_world: Path, tmp_path: Path, serial_pool_search: Any, workers: int, seed: int
) -> None:
    executor = Scrambled(workers, seed)
    result = optimize(_pool_search(tiny_world, tmp_path), execution=Execution(executor=executor))
    assert executor.out_of_order > 0  # runs did finish in another order than submitted
    # No round to wait for: a candidate starts while another's runs still wait.
    assert executor.overlaps > 0
    reference = serial_pool_search
    assert len(reference.trials) == 10
    assert_frame_equal(result.trials, reference.trials)
    assert result.recommendation == reference.recommendation
    assert result.runs == reference.runs == 20


# Robustness and sensitivity ------------------------------------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_sensitivity_ranks_the_dominant_input_first(seed: int, quick_sampled: Any) -> None:
    jury = tweak(bundled("policies/jury-only.yaml"), jury__pool_size=60)
    result = robustness(
        quick_sampled,
        [jury],
        {
            # Made dominant: the jury's capacity decides the backlog.
            "jury.active_share": (0.01, 0.2),
            # Barely varied: hardly any effect.
            "reach.half_life_hours": (5.95, 6.05),
            "audience.sympathy.benign": (0.0, 0.01),
        },
        [bundled("policies/host-notice-and-strike.yaml")],
        constraints=["jury_backlog_max <= 50"],
        samples=4,
        seed=seed,
        execution=Execution(executor=SerialExecutor()),
    )
    ranking = result.sensitivity[result.sensitivity["metric"] == "jury_backlog_max"]
    first = ranking.sort_values("rank").iloc[0]
    assert first["input"] == "jury.active_share"
    assert first["share"] > 0.5
    # The table counts the scenarios meeting the constraint, as the runs say.
    runs = result.runs
    row = result.table.iloc[0]
    assert row["meeting_all"] == int((runs["jury_backlog_max"] <= 50).sum())
    assert row["worst: jury_backlog_max <= 50"] == runs["jury_backlog_max"].max()
    assert result.points == 4 * (3 + 1)


# CLI -------------------------------------------------------------------------------------
def test_cli_optimize_writes_a_ready_policy_and_refuses_bad_files(tmp_path: Path) -> None:
    path = write_doc(
        tmp_path, optimization_doc(trials=3, search={"jury.pool_size": {"choices": [320, 640]}})
    )
    out = tmp_path / "res"
    runner = CliRunner()
    res = runner.invoke(app, ["optimize", str(path), "--out", str(out), "-w", "1", "-q"])
    assert res.exit_code == 0, res.output
    assert "Recommended" in res.output
    policy = load_file(out / "recommended.yaml").model
    assert isinstance(policy, PlatformPolicy)
    assert "## The recommended policy: changes from the base" in (out / "report.md").read_text(
        encoding="utf-8"
    )
    bad = write_doc(tmp_path, optimization_doc(constraints=["nonsense <= 1"]), "bad.yaml")
    res = runner.invoke(app, ["optimize", str(bad), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "unknown metric" in res.output
