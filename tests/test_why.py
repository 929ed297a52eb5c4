"""Why an enforcer acted or did not, across seeds: each rule's peak score is kept
in the run, and a comparison says per policy which rule it tripped or avoided
(``why.csv``, the CLI table, the report) - and ``modsim explain`` ranks the levers
that move the decision."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import ROOT, bundled, tweak
from typer.testing import CliRunner

import simulator
from simulator.cli import app
from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.experiments.executors import SerialExecutor
from simulator.experiments.explain import Explanation, Lever, Variant, explain
from simulator.experiments.why import why_lines, why_table

runner = CliRunner()
WIDE = {"COLUMNS": "400"}  # rich wraps at the terminal's width; tests read whole lines


@pytest.fixture(scope="module")
def world() -> Scenario:
    """The quick world in scale mode: a week, one surge, runs in a fraction of a second."""
    return tweak(bundled("scenarios/quick.yaml"), content__texts__mode="sampled")


@pytest.fixture(scope="module")
def small_jury() -> PlatformPolicy:
    """A jury of 40 (5% on duty) that falls behind in the surge: the backlog ages."""
    return tweak(
        bundled("policies/jury-only.yaml"),
        name="small jury",
        jury__pool_size=40,
        jury__active_share=0.05,
    )


@pytest.fixture(scope="module")
def watchful_host() -> HostPolicy:
    """A host that hears of most violent posts, with an emergency clause a small
    world can reach: 40 found posts in 48 h and reports waiting a median 2 h,
    each half of the score."""
    return tweak(
        bundled("policies/host-notice-and-strike.yaml"),
        detection__outside_reports_per_million_views=2000.0,
        notices__min_posts=3,
        suspension__emergency__signals__found_posts__threshold=40.0,
        suspension__emergency__signals__backlog_age_hours__threshold=2.0,
        suspension__emergency__notice_hours=6.0,
    )


def write(folder: Path, **models: object) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, model in models.items():
        out[name] = folder / f"{name}.yaml"
        out[name].write_text(yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False))  # type: ignore[attr-defined]
    return out


def test_a_rule_that_never_fires_keeps_its_peak_below_one(
    world: Scenario, small_jury: PlatformPolicy, watchful_host: HostPolicy
) -> None:
    # found_posts with no window and an unreachable threshold: the score only
    # grows (posts found so far / threshold), so its peak is every post found.
    host = tweak(
        watchful_host,
        suspension__emergency__signals={
            "found_posts": {"threshold": 100_000, "window_hours": None}
        },
    )
    e = simulator.simulate(world, small_jury, [host], seed=1).summary["enforcement"]
    h = e["enforcers"][0]
    emergency = next(r for r in h["rules"] if r["rule"] == "emergency")
    assert emergency["fired"] == 0 and emergency["tripped_at"] is None
    peak = emergency["peak"]
    found = peak["signals"][0]["value"]
    # every post in a notice was found first, and some were found
    assert found >= h["posts_noticed"] > 0
    assert peak["score"] == pytest.approx(found / 100_000)
    assert peak["closest"] == "found_posts"
    assert peak["text"] == f"found posts {found:,.0f} of 100,000"


@pytest.fixture(scope="module")
def compared(
    tmp_path_factory: pytest.TempPathFactory,
    world: Scenario,
    small_jury: PlatformPolicy,
    watchful_host: HostPolicy,
) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("why")
    files = write(
        folder,
        world=world,
        small=small_jury,
        double=tweak(small_jury, name="double jury", jury__pool_size=80),
        host=watchful_host,
    )
    args = ["compare", str(files["world"]), "-p", str(files["small"]), "-p", str(files["double"])]
    args += ["-H", str(files["host"]), "--seeds", "3", "-w", "1", "--out", str(folder / "cmp")]
    res = runner.invoke(app, args, env=WIDE)
    assert res.exit_code == 0, res.output
    return folder / "cmp", res.output


def test_compare_says_which_rule_each_policy_tripped_or_avoided(
    compared: tuple[Path, str],
) -> None:
    out, output = compared
    why = pd.read_csv(out / "why.csv")
    emergency = why[why["rule"] == "emergency"].set_index("policy")
    # The small jury's backlog ages past the clause's line; double the jury and
    # it never does: the clause is avoided in every seed, with its peak below 1.
    assert emergency.loc["small jury", "tripped"] >= 1
    assert (
        emergency.loc["small jury", "decided"]
        == f"emergency={emergency.loc['small jury', 'removed']}"
    )
    double = emergency.loc["double jury"]
    assert double["tripped"] == 0 and double["removed"] == 0
    assert 0 < double["peak_max"] < 1
    assert double["peak_median"] <= double["peak_max"]
    line = next(x for x in why_lines(why, ["policy"]) if x["policy"] == "double jury")
    assert line["outcome"] == "never suspended (3 seeds)"
    avoided = f"emergency clause avoided: peak score {double['peak_max']:.2f} of 1"
    assert any(r.startswith(avoided) for r in line["rules"])
    assert "found posts" in double["peak_text"]
    # ... said in the CLI table and in the report
    assert avoided in output
    assert "never suspended (3 seeds)" in output
    md = (out / "report.md").read_text()
    assert "## Why the enforcers acted, or did not" in md
    assert avoided in md
    assert "suspended in " in md and "by the emergency clause" in md


# -- modsim explain ----------------------------------------------------------------------


PLACEBO = Lever(
    "placebo",
    "what a juror-hour is worth: a cost, which no enforcer sees",
    lambda policy, hosts: [Variant("x2", {"costs.juror_hourly": 20.0})],
)


def explain_small(world: Scenario, policy: PlatformPolicy, host: HostPolicy) -> Explanation:
    """The placebo, the jury's size and the prefilter around the small jury, seeds 0, 1, 2."""
    return explain(
        world,
        policy,
        [host],
        seed=0,
        seeds=3,
        levers=[PLACEBO, "jury-pool", "prefilter"],
        execution=simulator.Execution(executor=SerialExecutor()),
    )


@pytest.fixture(scope="module")
def explained(
    world: Scenario, small_jury: PlatformPolicy, watchful_host: HostPolicy
) -> Explanation:
    return explain_small(world, small_jury, watchful_host)


def test_doubling_the_jury_moves_or_averts_the_suspension(
    explained: Explanation,
) -> None:
    t = explained.table.set_index(["lever", "variant"])
    base = t.loc[("base", "base")]
    assert base["suspended"] == 3  # the small jury is suspended on every seed
    assert explained.rule == f"{explained.batch.why['enforcer'].iloc[0]}: emergency"
    double = t.loc[("jury-pool", "x2")]
    assert double["averted"] > 0 or double["shift_hours"] != 0
    assert double["shift_hours"] > 0  # later, or never
    assert double["progress_shift"] < 0  # the clause came less close
    # a tuned prefilter (the typical card) averts it too, in some seeds at least
    pre = t.loc[("prefilter", "on (jury-plus-card-typical)")]
    assert pre["averted"] >= 1 and pre["shift_hours"] > 0
    assert pre["change"] == "prefilter: off -> on"
    # ... and in the queue order the card's policy was tuned with: flagged posts first
    ordered = t.loc[("prefilter", "on (jury-plus-card-typical), jury score")]
    assert ordered["change"] == "jury.priority: fifo -> score, prefilter: off -> on"


def test_explain_ranks_a_lever_no_enforcer_sees_below_one_that_matters(
    explained: Explanation,
) -> None:
    t = explained.table
    placebo = t[t["lever"] == "placebo"].iloc[0]
    # common random numbers: the same posts and draws, so exactly nothing moves
    assert placebo["abs_shift_hours"] == 0 and placebo["averted"] == 0
    assert placebo["progress_shift"] == 0
    jury = t[t["lever"] == "jury-pool"]["rank"].iloc[0]
    assert jury < placebo["rank"]
    assert placebo["rank"] == t["rank"].max()


def test_explain_is_reproducible(
    explained: Explanation,
    world: Scenario,
    small_jury: PlatformPolicy,
    watchful_host: HostPolicy,
) -> None:
    again = explain_small(world, small_jury, watchful_host)
    pd.testing.assert_frame_equal(again.table, explained.table)


def test_a_lever_that_does_not_apply_is_skipped_with_its_reason(
    world: Scenario, watchful_host: HostPolicy
) -> None:
    staff_only = bundled("policies/ai-first.yaml")
    x = explain(
        world,
        staff_only,
        [watchful_host],
        seeds=1,
        levers=["jury-pool"],
        execution=simulator.Execution(executor=SerialExecutor()),
    )
    assert x.skipped == {"jury-pool": "the policy has no jury (jury.pool_size is 0)"}
    assert list(x.table["lever"]) == ["base"]


def test_explain_command_on_a_run_folder(
    tmp_path: Path, world: Scenario, small_jury: PlatformPolicy, watchful_host: HostPolicy
) -> None:
    files = write(tmp_path, world=world, policy=small_jury, host=watchful_host)
    run = tmp_path / "run"
    args = ["run", str(files["world"]), "-p", str(files["policy"]), "-H", str(files["host"])]
    res = runner.invoke(app, [*args, "--out", str(run)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        [
            *("explain", str(run), "--lever", "jury-pool", "--lever", "prefilter"),
            *("--seeds", "2", "-w", "1"),
            *("--prefilter-from", str(ROOT / "policies/jury-plus-card-strong.yaml")),
        ],
        env=WIDE,
    )
    assert res.exit_code == 0, res.output
    assert "jury-pool: x0.5 (jury.pool_size: 40 -> 20)" in res.output
    assert "prefilter: on (jury-plus-card-strong) (prefilter: off -> on)" in res.output
    assert "on (jury-plus-card-strong), jury score (jury.priority: fifo -> score" in res.output
    for name in ("explain.csv", "explain.json", "explain.md", "explain.html", "why.csv"):
        assert (run / "explain" / name).is_file(), name
    md = (run / "explain" / "explain.md").read_text()
    assert "## Levers ranked by how far they move the decision" in md
    assert "the run's own seed" in md
    table = pd.read_csv(run / "explain" / "explain.csv")
    assert sorted(table["lever"]) == ["base", "jury-pool", "jury-pool", "prefilter", "prefilter"]
    # the base's first seed is the run itself: its own seed, so the same decision
    cells = pd.read_csv(run / "explain" / "cells.csv", dtype={"cell_id": str})
    first = cells[(cells["lever"] == "base") & (cells["replication"] == 0)].iloc[0]
    assert first["seed"] == 0
    kept = json.loads((run / "explain" / "cells" / f"{first['cell_id']}.json").read_text())
    ours = json.loads((run / "summary.json").read_text())["enforcement"]
    assert kept["summary"]["enforcement"]["suspended_at"] == ours["suspended_at"]
    assert kept["summary"]["enforcement"]["why"] == ours["why"]


def test_explain_refuses_bad_input(
    tmp_path: Path, world: Scenario, small_jury: PlatformPolicy, watchful_host: HostPolicy
) -> None:
    res = runner.invoke(app, ["explain", str(tmp_path / "nowhere")])
    assert res.exit_code == 2
    assert "no such results folder" in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["explain", str(empty)])
    assert res.exit_code == 2
    assert "not a results folder" in res.output
    search = tmp_path / "search"
    search.mkdir()
    (search / "experiment.json").write_text('{"kind": "optimization"}')
    res = runner.invoke(app, ["explain", str(search)])
    assert res.exit_code == 2
    assert "a results folder of kind 'optimization'; explain takes the folder of one run" in (
        res.output
    )
    assert "Traceback" not in res.output
    files = write(tmp_path, world=world, policy=small_jury, host=watchful_host)
    run = tmp_path / "run"
    args = ["run", str(files["world"]), "-p", str(files["policy"]), "-H", str(files["host"])]
    assert runner.invoke(app, [*args, "--out", str(run)]).exit_code == 0
    res = runner.invoke(app, ["explain", str(run), "--prefilter-from", str(tmp_path / "no.yaml")])
    assert res.exit_code == 2
    assert "no.yaml: file not found" in res.output
    res = runner.invoke(app, ["explain", str(run), "--lever", "jury-size"])
    assert res.exit_code == 2
    assert "unknown lever 'jury-size'; choose from jury-pool, votes, prefilter" in res.output
    assert not (run / "explain").exists()  # nothing ran
    files["policy"].write_text(files["policy"].read_text() + "\n# edited\n")
    res = runner.invoke(app, ["explain", str(run)])
    assert res.exit_code == 2
    assert "changed since the run" in res.output


def _host(removed: str | None, scheduled: bool, strikes: int, tripped: str | None) -> dict:
    rule = {"rule": "emergency"} if scheduled else None
    peak = {"score": 1.0 if tripped else 0.5, "text": "found posts 3 of 6"}
    return {
        "name": "store",
        "effect": "delist",
        "removed_at": removed,
        "decided_by": rule,
        "rules": [
            {"rule": "strike", "fired": strikes, "needed": 3, "tripped_at": tripped, "peak": peak},
        ],
    }


def test_why_counts_strikes_of_the_seeds_that_avoided_the_rule_and_removals_not_reached() -> None:
    start = "2021-03-01T00:00:00+00:00"
    runs = {
        # seed 1: three strikes (the rule reached a removal), delisted
        "a": _host("2021-03-03T12:00:00+00:00", True, 3, "2021-03-02T12:00:00+00:00"),
        # seed 2: one strike; a removal scheduled (by another rule) the run never reached
        "b": _host(None, True, 1, None),
    }
    summaries = {
        k: {"run": {"start": start}, "enforcement": {"enforcers": [h]}} for k, h in runs.items()
    }
    cells = pd.DataFrame({"cell_id": ["a", "b"], "policy": ["p", "p"]})
    table = why_table(cells, summaries, ["policy"])
    (line,) = why_lines(table, ["policy"])
    assert line["outcome"] == (
        "delisted in 1/2 seeds (median 2021-03-03 12:00) by the emergency clause; "
        "scheduled in 1 more, the run ended first"
    )
    assert line["rules"] == [
        "strike rule tripped in 1/2 seeds (median 2021-03-02 12:00), avoided in 1/2: "
        "at most 1 of 3 strikes (at its highest: found posts 3 of 6)"
    ]
