"""Authors against the platform and hosts that see them: adaptive evasion (scores
shift down after removals), notices that name accounts with the repeat-violators
signal, and a replayed log's author column.

Runs use the quick world in scale mode with an ``accounts:`` block (the
``accounts_world`` fixture), as in ``test_accounts.py``.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import ACCOUNTS_POPULATION, ROOT, bundled, quick_sampled_file, tweak
from test_accounts import THREE_STRIKES, WARN_ONLY, book, strike, summary_text
from test_replay import replay_of
from typer.testing import CliRunner

from simulator.accounts.adaptation import shifted
from simulator.api import simulate
from simulator.checks import check_run
from simulator.cli import app
from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.engine import Simulation
from simulator.errors import DataFileError, ModsimError
from simulator.experiments import compare
from simulator.experiments.execution import Execution
from simulator.metrics.accounts import account_summary
from simulator.seeding import SeedTree
from simulator.stream.replay import ReplayStream

ADAPT = {"score_shift_per_removal": 1.0, "max_shift": 3.0}


@pytest.fixture(scope="module")
def adapting(accounts_world: Scenario) -> Scenario:
    return tweak(accounts_world, accounts__adaptation=ADAPT)


@pytest.fixture(scope="module")
def card_warn(bundled_card: PlatformPolicy) -> PlatformPolicy:
    """A prefilter, and a ladder that only warns: authors are followed, nobody blocked."""
    return tweak(bundled_card, accounts=WARN_ONLY)


@pytest.fixture(scope="module")
def bundled_card() -> PlatformPolicy:
    return bundled("policies/jury-plus-card-typical.yaml")


def recall(summary: dict[str, Any]) -> dict[str, tuple[int, int]]:
    table = summary["adaptation"]["prefilter_recall_by_removals"]
    return {k: (v["posts"], v["caught"]) for k, v in table.items()}


# Adaptive evasion ------------------------------------------------------------------------
def test_a_shift_lowers_the_logit_by_its_size_and_zero_changes_nothing() -> None:
    score = np.array([0.0, 1e-9, 0.2, 0.5, 0.9, 1.0])
    assert np.array_equal(shifted(score, np.zeros(len(score))), score)
    out = shifted(score, np.full(len(score), 1.5))
    inner = slice(1, 5)
    logit = np.log(score[inner] / (1 - score[inner])) - np.log(out[inner] / (1 - out[inner]))
    assert np.allclose(logit, 1.5)
    assert (out <= score).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_authors_who_learned_from_removals_get_past_the_prefilter(
    accounts_world: Scenario, adapting: Scenario, card_warn: PlatformPolicy, seed: int
) -> None:
    """With adaptation, the prefilter catches fewer of the violating posts of authors
    whose posts were removed three times or more than of those never removed; without
    it, the two recalls agree within sampling error."""
    on = recall(simulate(adapting, card_warn, seed=seed).summary)
    off = recall(simulate(accounts_world, card_warn, seed=seed).summary)
    (n0, c0), (n3, c3) = on["0"], on["3+"]
    assert n3 > 100 and n0 > 100
    assert c3 / n3 < 0.6 * c0 / n0
    (n0, c0), (n3, c3) = off["0"], off["3+"]
    p = (c0 + c3) / (n0 + n3)
    se = math.sqrt(p * (1 - p) * (1 / n0 + 1 / n3))
    assert abs(c3 / n3 - c0 / n0) < 4 * se
    # the same posts reach the prefilter either way (a shift changes only their scores)
    assert sum(n for n, _ in on.values()) <= sum(n for n, _ in off.values())


def test_adaptation_off_leaves_results_bit_identical(
    quick_sampled: Scenario, accounts_world: Scenario, bundled_card: PlatformPolicy
) -> None:
    zero = tweak(
        accounts_world, accounts__adaptation={"score_shift_per_removal": 0.0, "max_shift": 3.0}
    )
    plain = simulate(quick_sampled, bundled_card, seed=3)
    for scenario in (accounts_world, zero):
        other = simulate(scenario, bundled_card, seed=3)
        assert summary_text(other) == summary_text(plain)
        assert "adaptation" not in other.summary


def test_adaptation_works_with_a_policy_that_does_not_act_on_accounts(
    accounts_world: Scenario, adapting: Scenario, bundled_card: PlatformPolicy
) -> None:
    plain = simulate(accounts_world, bundled_card, seed=5).summary
    adapted = simulate(adapting, bundled_card, seed=5).summary
    assert "accounts" not in adapted  # no account enforcement to report
    caught = adapted["adaptation"]["prefilter_recall_by_removals"]
    assert caught["3+"]["posts"] > 0
    # the same posts, fewer of them removed by the prefilter
    assert adapted["posts"] == plain["posts"]
    by = "removed_by"
    assert adapted["violating"][by]["prefilter"] < plain["violating"][by]["prefilter"]


# Hosts that see accounts -----------------------------------------------------------------
@pytest.fixture(scope="module")
def watching_host(strike_host: HostPolicy) -> HostPolicy:
    """A host that finds a lot and strikes on repeat violators found active again."""
    return tweak(
        strike_host,
        detection__outside_reports_per_million_views=1000.0,
        strikes__signals={"repeat_violators_active": {"threshold": 5.0}},
        suspension__emergency__enabled=False,
    )


def _host_run(scenario: Scenario, policy: PlatformPolicy, host: HostPolicy, seed: int) -> Any:
    sim = Simulation(scenario, policy, [host], seed=seed)
    log = sim.run()
    found = sum(a for _, a in sim.enforcers[0].evidence("repeat_violators_active"))
    strikes = [e.time for e in log.events if e.kind == "strike"]
    return log, found, (strikes[0] if strikes else math.inf)


def test_repeat_violators_are_fewer_and_strikes_later_under_a_ladder_that_bans(
    accounts_world: Scenario, jury_only: PlatformPolicy, watching_host: HostPolicy
) -> None:
    no_evasion = tweak(accounts_world, accounts__evasion__share=0.0)
    three = tweak(
        jury_only,
        accounts=dict(THREE_STRIKES, ladder=[*THREE_STRIKES["ladder"]], appeals={"share": 0.0}),
    )
    found: dict[str, list[float]] = {"jury": [], "three": []}
    first: dict[str, list[float]] = {"jury": [], "three": []}
    for seed in (0, 1, 2):
        for name, policy in (("jury", jury_only), ("three", three)):
            log, n, at = _host_run(no_evasion, policy, watching_host, seed)
            found[name].append(n)
            first[name].append(at)
            notices = [e for e in log.events if e.kind == "notice"]
            assert notices and all(" by " in e.detail and "account" in e.detail for e in notices)
    assert sum(found["jury"]) > 1.5 * sum(found["three"])
    assert sum(found["jury"]) >= 15
    assert np.median(first["jury"]) < np.median(first["three"])


def test_notices_name_the_accounts_behind_their_posts(
    accounts_world: Scenario, jury_only: PlatformPolicy, watching_host: HostPolicy
) -> None:
    result = simulate(accounts_world, jury_only, [watching_host], seed=1)
    host = result.summary["enforcement"]["enforcers"][0]
    assert 0 < host["accounts_noticed"] <= host["posts_noticed"]
    timeline = result.timeline
    notices = timeline[timeline["event"] == "notice"]
    assert notices["detail"].str.contains(r"notice \d+: \d+ posts by \d+ accounts?$").all()


def test_a_host_weighing_repeat_violators_needs_authors(
    quick_sampled: Scenario, jury_only: PlatformPolicy, tmp_path: Path
) -> None:
    host = tmp_path / "host.yaml"
    host.write_text(
        (ROOT / "policies/host-notice-and-strike.yaml")
        .read_text()
        .replace(
            "noticed_posts_up: {threshold: 1}",
            "repeat_violators_active: {threshold: 3}",
        )
    )
    lines = host.read_text().splitlines()
    line = next(i for i, t in enumerate(lines, 1) if "repeat_violators_active" in t)
    args = ["run", str(ROOT / "scenarios/quick.yaml"), "-p", str(ROOT / "policies/jury-only.yaml")]
    res = CliRunner().invoke(app, [*args, "-H", str(host), "--out", str(tmp_path / "x"), "-q"])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert (
        f"{host}:{line}: strikes.signals.repeat_violators_active: the host weighs repeat "
        "violators" in res.output
    )


def test_results_with_adaptation_and_named_accounts_are_the_same_whatever_the_chunking(
    adapting: Scenario, card_warn: PlatformPolicy, watching_host: HostPolicy
) -> None:
    policy = tweak(card_warn, accounts=THREE_STRIKES)
    runs = [simulate(adapting, policy, [watching_host], seed=4, chunk_days=c) for c in (1, 3, 7)]
    runs.append(simulate(adapting, policy, [watching_host], seed=4, slice_posts=997, spill_rows=0))
    first = summary_text(runs[0])
    summary = json.loads(first)
    assert summary["adaptation"]["prefilter_recall_by_removals"]["1"]["posts"] > 0
    assert summary["enforcement"]["enforcers"][0]["accounts_noticed"] > 0
    for other in runs[1:]:
        assert summary_text(other) == first


def test_results_with_adaptation_are_the_same_whatever_the_number_of_workers(
    tmp_path: Path,
) -> None:
    world = quick_sampled_file(
        tmp_path,
        "accounts:\n  evasion: {share: 0.5}\n"
        "  adaptation: {score_shift_per_removal: 1.0, max_shift: 3.0}\n",
    )
    policies = [
        str(ROOT / f"policies/{p}.yaml") for p in ("jury-plus-card-typical", "jury-three-strikes")
    ]
    runs = [compare(world, policies, [], seeds=2, execution=Execution(workers=w)) for w in (1, 2)]
    table = runs[0].table.set_index("metric")
    assert "prefilter_recall_authors_removed_before" in table.index  # the card's policy
    pd.testing.assert_frame_equal(runs[0].table, runs[1].table)
    pd.testing.assert_frame_equal(runs[0].cells, runs[1].cells)


# A replayed log's authors -------------------------------------------------------------
@pytest.fixture(scope="module")
def authored_log(
    quick: Scenario, jury_only: PlatformPolicy, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Scenario, pd.DataFrame]:
    """Four days of the quick world written with their authors (named as text), and
    the scenario that replays them."""
    small = tweak(quick, days=4, surges=[], accounts=ACCOUNTS_POPULATION)
    frames: list[pd.DataFrame] = []
    simulate(small, tweak(jury_only, accounts=WARN_ONLY), seed=3, table="all", sink=frames.append)
    posts = pd.concat(frames, ignore_index=True)
    posts["author"] = "user-" + posts["author"].astype(str)
    path = tmp_path_factory.mktemp("authored") / "posts.parquet"
    posts.to_parquet(path, index=False)
    columns = {
        "created_at": "created_at",
        "text": "text",
        "label": "cls",
        "views": "reach",
        "post_id": "post_id",
        "author": "author",
    }
    replay = replay_of(tweak(quick, days=4, surges=[]), path, timestamps="hours", columns=columns)
    return replay, posts


BAN_ON_SECOND = {
    "enabled": True,
    "ladder": [{"strikes": 1, "action": "warn"}, {"strikes": 2, "action": "ban"}],
    "strike_expiry_days": None,
}


def test_a_replay_with_authors_bans_and_does_not_make_a_banned_authors_later_posts(
    authored_log: tuple[Scenario, pd.DataFrame], jury_only: PlatformPolicy
) -> None:
    replay, posts = authored_log
    rows: list[pd.DataFrame] = []
    sim = Simulation(replay, tweak(jury_only, accounts=BAN_ON_SECOND), seed=3, table="all")
    log = sim.run(sink=rows.append)
    made = pd.concat(rows, ignore_index=True)
    assert log.accounts is not None
    acts = log.accounts.actions
    bans = acts[acts["rung"] == 1]
    assert len(bans) > 0
    # the log's own names, and a banned author's posts from the next day on not made
    assert made["author"].str.startswith("user-").all()
    names = sim.stream.author_names(bans["person"].to_numpy())  # type: ignore[attr-defined]
    cut = dict(zip(names, np.ceil(bans["time"].to_numpy() / 24.0) * 24.0, strict=True))
    later = made[made["author"].isin(cut)]
    assert not (later["created_at"].to_numpy() >= later["author"].map(cut).to_numpy()).any()
    in_log = posts[posts["author"].isin(cut)]
    not_made = (in_log["created_at"].to_numpy() >= in_log["author"].map(cut).to_numpy()).sum()
    assert not_made > 0
    assert len(made) == len(posts) - not_made
    assert log.accounts.prevented_by_class.sum() == not_made
    # a log's authors have no propensity: no ban says whether a repeat offender fell
    summary = account_summary(log)
    assert summary is not None and summary["banned"] > 0
    assert summary["repeat_offenders"] is None
    assert summary["banned_not_repeat_offenders"] is None
    # the same log without account enforcement makes every post
    plain: list[pd.DataFrame] = []
    Simulation(replay, jury_only, seed=3, table="all").run(sink=plain.append)
    assert sum(len(f) for f in plain) == len(posts)


def test_a_replay_without_authors_is_refused_under_account_enforcement(
    authored_log: tuple[Scenario, pd.DataFrame], jury_only: PlatformPolicy
) -> None:
    replay, _ = authored_log
    columns = replay.stream.columns
    assert columns is not None
    anonymous = tweak(replay, stream__columns=columns.model_dump() | {"author": None})
    policy = tweak(jury_only, accounts=THREE_STRIKES)
    findings = check_run(anonymous, policy)
    assert findings[0].level == "error" and findings[0].field == "accounts.enabled"
    assert "names no authors: map its author column" in findings[0].message
    with pytest.raises(ModsimError, match="replayed log names no authors"):
        simulate(anonymous, policy, seed=0)
    assert not [f for f in check_run(replay, policy) if f.level == "error"]


def test_a_blank_author_is_a_bad_row(quick: Scenario, tmp_path: Path) -> None:
    log = tmp_path / "posts.csv"
    log.write_text(
        "ts,body,user\n"
        "2021-03-01 10:00,hello there,alice\n"
        "2021-03-01 11:00,another post,  \n"
        "2021-03-01 12:00,and one more,bob\n"
    )
    columns = {"created_at": "ts", "text": "body", "author": "user"}
    replay = replay_of(tweak(quick, surges=[]), log, columns=columns)
    bad = r"column 'user': missing or blank author at data row 2"
    with pytest.raises(DataFileError, match=bad):
        ReplayStream(replay, SeedTree(0))


def test_a_replay_with_authors_names_them_in_notices_without_an_accounts_block(
    authored_log: tuple[Scenario, pd.DataFrame],
    jury_only: PlatformPolicy,
    watching_host: HostPolicy,
) -> None:
    replay, _ = authored_log
    assert replay.accounts is None
    result = simulate(replay, jury_only, [watching_host], seed=2)
    host = result.summary["enforcement"]["enforcers"][0]
    assert host["notices"] > 0
    assert 0 < host["accounts_noticed"] <= host["posts_noticed"]


def test_a_run_folder_says_which_accounts_were_named_and_how_adapted_authors_fared(
    tmp_path: Path,
) -> None:
    world = quick_sampled_file(
        tmp_path, "accounts:\n  adaptation: {score_shift_per_removal: 1.0}\n"
    )
    host = tmp_path / "host.yaml"
    host.write_text(
        (ROOT / "policies/host-notice-and-strike.yaml")
        .read_text()
        .replace("per_million_views: 0.34", "per_million_views: 500")
        .replace("noticed_posts_up: {threshold: 1}", "repeat_violators_active: {threshold: 5}")
    )
    out = tmp_path / "run"
    policy = ROOT / "policies/jury-plus-card-typical.yaml"
    args = ["run", str(world), "-p", str(policy), "-H", str(host), "--out", str(out), "-q"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    report = (out / "report.md").read_text()
    assert re.search(r"notices named [\d,]+ accounts? behind [\d,]+ posts?\.", report)
    assert re.search(r"Adaptation: the prefilter caught [\d.]+% .* and [\d.]+% of those", report)
    timeline = pd.read_csv(out / "timeline.csv")
    assert timeline[timeline["event"] == "notice"]["detail"].str.contains(" accounts?$").all()


def test_the_recall_counts_only_posts_made_before_a_takedown(
    adapting: Scenario, card_warn: PlatformPolicy, suspending_host: HostPolicy
) -> None:
    """A day is staged whole when it begins; a takedown during it leaves its later
    posts unmade, and the prefilter's recall must not count them."""
    result = simulate(adapting, card_warn, [suspending_host], seed=0)
    assert result.summary["enforcement"]["suspended"]
    bins = result.summary["adaptation"]["prefilter_recall_by_removals"]
    assert sum(b["posts"] for b in bins.values()) == result.summary["violating"]["count"]


def test_a_banned_author_back_under_a_new_account_is_a_new_account_to_a_host() -> None:
    no_appeals = dict(THREE_STRIKES, appeals={"share": 0.0})
    b = book(no_appeals, {"share": 1.0, "delay": {"median_days": 1.0, "sigma": 0.0}})
    for post, t in enumerate((10.0, 20.0, 30.0)):
        strike(b, 7, post, t)
    (ban,) = b.advance(31.0)
    assert ban.until == pytest.approx(30.0 + 24.0)
    persons = np.array([7, 7, 7, 3])
    accounts = b.account_at(persons, np.array([5.0, 40.0, ban.until + 1.0, 50.0]))
    assert accounts.tolist() == [7, 7, 10, 3]  # 10: the first id after the population's


def test_a_replayed_author_who_evades_a_ban_posts_again_under_a_new_account(
    authored_log: tuple[Scenario, pd.DataFrame], jury_only: PlatformPolicy
) -> None:
    replay, _ = authored_log
    evading = tweak(replay, accounts={"evasion": {"share": 1.0, "delay": {"median_days": 0.5}}})
    rows: list[pd.DataFrame] = []
    sim = Simulation(evading, tweak(jury_only, accounts=BAN_ON_SECOND), seed=3, table="all")
    log = sim.run(sink=rows.append)
    made = pd.concat(rows, ignore_index=True)
    assert log.accounts is not None
    acts = log.accounts.actions
    bans = acts[(acts["rung"] == 1) & acts["evaded"]]
    assert len(bans) > 0
    names = sim.stream.author_names(bans["person"].to_numpy())  # type: ignore[attr-defined]
    back = dict(zip(names, bans["returns_at"], strict=True))
    cut = dict(zip(names, np.ceil(bans["time"].to_numpy() / 24.0) * 24.0, strict=True))
    mine = made[made["author"].isin(back)]
    created = mine["created_at"].to_numpy()
    blocked = (created >= mine["author"].map(cut).to_numpy()) & (
        created < mine["author"].map(back).to_numpy()
    )
    assert not blocked.any()  # nothing while banned
    assert (created >= mine["author"].map(back).to_numpy()).any()  # back under a new account


def test_a_disabled_emergency_clause_weighing_repeat_violators_needs_no_authors(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    # The run ignores a disabled clause's signals, so the checks must too; enabled, the
    # same clause needs authors.
    signals = {"repeat_violators_active": {"threshold": 3}}
    emergency = strike_host.suspension.emergency.model_dump() | {"signals": signals}

    def errors(enabled: bool) -> list[str | None]:
        host = tweak(strike_host, suspension__emergency=emergency | {"enabled": enabled})
        return [f.field for f in check_run(quick_sampled, jury_only, [host]) if f.level == "error"]

    assert errors(False) == []
    assert errors(True) == ["suspension.emergency.signals.repeat_violators_active"]
