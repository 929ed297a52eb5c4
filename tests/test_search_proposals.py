"""What a search does with the sampler's proposals (issue 19, item 5): a
candidate the policy's own rules refuse is never run and is told the sampler
as infeasible, one proposed again is not run again, a small space ends when
every candidate was proposed, and the counts say so.

Runs are kept short: two seeds per candidate on the quick scenario."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import optuna
import pytest
from helpers import Counting, optimization_doc, write_doc
from typer.testing import CliRunner

import simulator
from simulator.cli import app
from simulator.config.search import Param
from simulator.errors import ConfigError
from simulator.experiments.execution import Execution
from simulator.experiments.executors import Outcome
from simulator.experiments.problem import distribution
from simulator.experiments.proposals import PENALTY, RULES, reason, space_size
from simulator.folders.search import ASK_LIMIT, EXHAUSTED, SearchResult, read_search
from simulator.studies import optimize

VOTES = ("jury.votes_per_case", "jury.votes_to_remove")
RULE = "votes_to_remove exceeds votes_per_case"
runner = CliRunner()


class Watching(Counting):
    """A serial executor that also records the rules of every policy it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.votes: list[tuple[int, int | None]] = []

    def run(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome[Any]]:
        for item in items:
            self.votes.append((item.policy.jury.votes_per_case, item.policy.jury.votes_to_remove))
        yield from super().run(fn, items)


def votes_doc(**changes: Any) -> dict[str, Any]:
    """A search over votes per case and votes to remove, 1 to 5 each: 10 of
    the 25 pairs ask for more votes to remove than a case has."""
    doc = optimization_doc(
        search={p: {"low": 1, "high": 5, "integer": True} for p in VOTES},
        seeds={"min": 2, "max": 2, "step": 1, "confidence": 0.9},
    )
    return doc | changes


def assert_counts_add_up(result: SearchResult) -> None:
    p = result.proposals
    assert p is not None
    assert p.asked == p.distinct + p.duplicates
    assert p.distinct == p.evaluated + p.failed + p.refused
    assert sum(p.refusals.values()) == p.refused
    assert len(result.trials) == p.evaluated + p.failed


def assert_each_candidate_once(result: SearchResult) -> None:
    for table in (result.trials, result.pareto):
        if len(table):
            keys = table["params"].map(lambda d: json.dumps(d, sort_keys=True))
            assert not keys.duplicated().any(), table[["trial", "params"]]


def load_study(out: Path) -> optuna.Study:
    storage = f"sqlite:///{out / 'study.db'}"
    (name,) = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=name, storage=storage)


@pytest.mark.parametrize(
    ("sampler", "seed", "parallel"), [("tpe", 0, 1), ("tpe", 1, 1), ("nsga2", 0, 1), ("tpe", 2, 4)]
)
def test_refused_candidates_are_never_run_and_the_budget_buys_distinct_valid_ones(
    tmp_path: Path, sampler: str, seed: int, parallel: int
) -> None:
    # 12 of the 15 valid pairs: the sampler must get past refusals and repeats
    # (with 4 candidates at a time, some proposals repeat one still running).
    trials = 12
    doc = votes_doc(trials=trials, sampler=sampler, seed=seed, parallel=parallel)
    path = write_doc(tmp_path, doc)
    ran = Watching()
    result = optimize(path, execution=Execution(executor=ran))
    p = result.proposals
    assert p is not None
    # It used to finish fewer candidates than asked for, some twice, with no word.
    assert p.evaluated == trials == len(result.trials)
    assert p.stopped is None
    assert_counts_add_up(result)
    assert_each_candidate_once(result)
    # No refused candidate ran, and no candidate ran twice (two seeds each).
    assert all(vpc >= (vtr or 0) for vpc, vtr in ran.votes)
    assert len(ran.ran) == len(set(ran.ran)) == 2 * trials == result.runs
    assert (result.trials[VOTES[1]] <= result.trials[VOTES[0]]).all()
    if p.refused:
        assert list(p.refusals) == [f"jury.votes_to_remove: {RULE}: no case could ever be removed"]


def test_refused_and_repeated_proposals_are_told_the_sampler_as_results(tmp_path: Path) -> None:
    path = write_doc(tmp_path, votes_doc(trials=8))
    out = tmp_path / "out"
    result = optimize(path, out=out, execution=Execution(executor=Counting()))
    p = result.proposals
    assert p is not None and p.refused > 0 and p.duplicates > 0
    study = load_study(out)
    by_number = {t.number: t for t in study.trials}
    refused = duplicates = 0
    for t in study.trials:
        rec = t.user_attrs["modsim"]
        # Never FAIL (which samplers ignore and propose again): complete, with a result.
        assert t.state == optuna.trial.TrialState.COMPLETE
        if rec["outcome"] == "refused":
            refused += 1
            assert t.constraints == {RULES: PENALTY}
            assert RULE in reason(rec["refused"])
        elif rec["outcome"] == "duplicate":
            duplicates += 1
            original = by_number[rec["duplicate_of"]]
            assert original.params == t.params and original.number < t.number
            assert t.values == original.values and t.constraints == original.constraints
    assert (refused, duplicates) == (p.refused, p.duplicates)
    # The front holds no refused candidate and each candidate once.
    front = {t.number for t in study.best_trials}
    assert not front & {t.number for t in study.trials if RULES in t.constraints}
    assert set(result.pareto["trial"]) <= front
    # The counts are in the record, and read back.
    again, _ = read_search(out)
    assert again.proposals == p


def test_a_proposal_of_a_candidate_still_running_waits_for_its_result(tmp_path: Path) -> None:
    # Three candidates, eight at a time: the sampler repeats one before the
    # first round has finished, and the repeat is told the same when it is.
    doc = optimization_doc(
        search={"jury.pool_size": {"choices": [160, 320, 640]}},
        trials=3,
        parallel=8,
        sampler="random",
        seeds={"min": 2, "max": 2, "step": 1, "confidence": 0.9},
    )
    out = tmp_path / "out"
    ran = Counting()
    result = optimize(write_doc(tmp_path, doc), out=out, execution=Execution(executor=ran))
    p = result.proposals
    assert p is not None and (p.evaluated, p.duplicates) == (3, p.asked - 3)
    assert len(ran.ran) == len(set(ran.ran)) == 6
    trials = load_study(out).trials
    waited = 0
    for t in trials:
        rec = t.user_attrs["modsim"]
        if rec["outcome"] == "duplicate":
            original = trials[rec["duplicate_of"]]
            assert t.values == original.values and t.constraints == original.constraints
            assert original.datetime_complete is not None and t.datetime_start is not None
            waited += t.datetime_start < original.datetime_complete
    assert waited > 0, "no proposal repeated a running candidate: pick another seed"
    assert_each_candidate_once(result)


def test_an_interrupted_search_resumes_each_candidate_once(tmp_path: Path) -> None:
    path = write_doc(tmp_path, votes_doc(trials=8, parallel=3))
    out = tmp_path / "out"
    first = Counting(stop_after=5)  # mid-way through the second round of candidates
    with pytest.raises(KeyboardInterrupt):
        optimize(path, out=out, execution=Execution(executor=first))
    second = Counting()
    result = optimize(path, out=out, execution=Execution(executor=second))
    assert not set(first.ran[:5]) & set(second.ran), "a finished run was repeated"
    p = result.proposals
    assert p is not None and p.evaluated == len(result.trials) == 8
    assert_counts_add_up(result)
    assert_each_candidate_once(result)
    assert len(set(first.ran[:5]) | set(second.ran)) == 2 * 8


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_a_tiny_space_ends_when_every_candidate_was_proposed(tmp_path: Path, sampler: str) -> None:
    # Two candidates, one refused (9 votes to remove of 5): one to evaluate of 5 asked for.
    doc = optimization_doc(
        search={"jury.votes_to_remove": {"choices": [4, 9]}},
        trials=5,
        sampler=sampler,
        seeds={"min": 2, "max": 2, "step": 1, "confidence": 0.9},
    )
    result = optimize(write_doc(tmp_path, doc), execution=Execution(executor=Counting()))
    p = result.proposals
    assert p is not None
    assert (p.space, p.distinct, p.evaluated, p.refused, p.stopped) == (2, 2, 1, 1, EXHAUSTED)
    assert_counts_add_up(result)
    assert result.runs == 2


def test_the_cli_and_the_report_say_what_was_asked_and_why_fewer_were_evaluated(
    tmp_path: Path,
) -> None:
    doc = optimization_doc(
        search={
            "jury.votes_per_case": {"choices": [3, 5]},
            "jury.votes_to_remove": {"choices": [2, 4]},
        },
        trials=6,
        seeds={"min": 2, "max": 2, "step": 1, "confidence": 0.9},
    )
    out = tmp_path / "res"
    res = runner.invoke(app, ["optimize", str(write_doc(tmp_path, doc)), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "search.json").read_text(encoding="utf-8"))["proposals"]
    asked, dupes = saved["asked"], saved["duplicates"]
    assert (saved["distinct"], saved["evaluated"], saved["refused"]) == (4, 3, 1)
    sentence = (
        f"{asked} proposals asked: 4 distinct candidates, 3 evaluated, 1 refused by the "
        f"policy's rules (jury.votes_to_remove: {RULE}: no case could ever be removed), "
        f"{dupes} duplicate"
    )
    short = (
        "Only 3 of a budget of 6 candidates were evaluated: the search space holds 4 "
        "candidates and every one was proposed (1 refused by the policy's rules)."
    )
    text = " ".join(res.output.split())
    assert sentence in text and f"warning: {short}" in text
    report = " ".join((out / "report.md").read_text(encoding="utf-8").split())
    assert sentence in report and short in report
    # `modsim report` rebuilds the same sentences from the folder alone.
    assert (
        runner.invoke(app, ["report", str(out), "-o", str(tmp_path / "again.html")]).exit_code == 0
    )
    assert sentence in " ".join((tmp_path / "again.md").read_text(encoding="utf-8").split())


def test_a_sampler_stuck_on_refused_candidates_stops_at_the_ask_limit(tmp_path: Path) -> None:
    # Every pair asks for more votes to remove than a case has: nothing can run.
    doc = optimization_doc(
        search={
            "jury.votes_per_case": {"choices": [1, 2]},
            "jury.votes_to_remove": {"low": 3, "high": 40, "integer": True},
        },
        trials=2,
    )
    ran = Counting()
    path = write_doc(tmp_path, doc)
    result = optimize(path, execution=Execution(executor=ran), out=tmp_path / "out")
    p = result.proposals
    assert p is not None
    assert (p.space, p.evaluated, p.stopped) == (76, 0, ASK_LIMIT)
    assert p.asked == p.ask_limit == 40 and ran.ran == []
    assert_counts_add_up(result)
    assert result.recommended is None and len(result.trials) == 0
    report = " ".join((tmp_path / "out" / "report.md").read_text(encoding="utf-8").split())
    assert f"40 proposals asked: {p.distinct} distinct candidates, 0 evaluated, " in report
    assert (
        "Only 0 of a budget of 2 candidates were evaluated: the sampler made 40 proposals, "
        "the limit for this budget, without finding more new candidates the policy allows"
    ) in report


def test_space_size_counts_grids_and_knows_a_continuous_field() -> None:
    grid = {
        "a": distribution("a", Param(low=1, high=5, integer=True)),
        "b": distribution("b", Param(choices=[3, 5])),
        "c": distribution("c", Param(low=0.8, high=0.99, step=0.01)),
        "d": distribution("d", Param(low=1000, high=6000, step=1000, integer=True)),
    }
    assert space_size(grid) == 5 * 2 * 20 * 6
    assert space_size(grid | {"e": distribution("e", Param(low=0.1, high=0.2))}) is None


def test_a_refusal_reason_leaves_out_the_values_of_one_candidate() -> None:
    a = "jury.votes_to_remove: votes_to_remove (4) exceeds votes_per_case (3): no case"
    b = "jury.votes_to_remove: votes_to_remove (9) exceeds votes_per_case (5): no case"
    assert (
        reason(a)
        == reason(b)
        == "jury.votes_to_remove: votes_to_remove exceeds votes_per_case: no case"
    )
    assert reason("jury.pool_size: expected: input should be > 0; got -3") == (
        "jury.pool_size: expected: input should be > 0"
    )


def test_optimize_from_python_names_the_file_line_and_field_of_a_bad_override(
    tmp_path: Path,
) -> None:
    bad = Path(__file__).parent / "malformed" / "search-override-days-zero.yaml"
    out = tmp_path / "out"
    # It used to say "<input>: days: ..." from the library, after making the folder.
    with pytest.raises(ConfigError) as info:
        simulator.optimize(bad, out=out)
    err = info.value
    assert (err.file, err.line, err.field) == (str(bad), 8, "overrides.scenario.days")
    assert "<input>" not in str(err)
    assert not out.exists()
