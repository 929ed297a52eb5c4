"""Enforcers and the platform's answer to notices: rules whose outcome the tests
derive on their own, from the rules, and compare with what the run reports."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import tweak

from simulator.api import simulate
from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.errors import ConfigError
from simulator.stages.notices import NoticeDesk

SEEDS = [1, 2, 3]

# Every violating view reaches the enforcer: posts are found within minutes,
# so each daily check has fresh findings and a notice goes out at every check.
EVERYTHING_SEEN = 1e6


def watcher(host: HostPolicy, name: str = "watcher", **changes: object) -> HostPolicy:
    """A host that sees everything and sends a notice at every daily check."""
    base: dict[str, object] = {
        "name": name,
        "detection__outside_reports_per_million_views": EVERYTHING_SEEN,
        "detection__audit__sample_size": 0,
        "notices__every_hours": 24.0,
        "notices__min_posts": 1,
        "suspension__emergency__enabled": False,
    }
    base.update(changes)
    return tweak(host, **base)


def do_nothing(policy: PlatformPolicy) -> PlatformPolicy:
    """A platform that never removes anything: no reports, notices ignored."""
    return tweak(policy, reports__enabled=False, notices__compliance=0.0)


def events(result, kind: str, enforcer: str | None = None) -> pd.DataFrame:
    tl = result.timeline
    sel = tl["event"] == kind
    if enforcer is not None:
        sel &= tl["enforcer"] == enforcer
    return tl[sel]


@pytest.mark.parametrize("seed", SEEDS)
def test_platform_that_removes_noticed_posts_in_time_is_never_suspended(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy, seed: int
) -> None:
    host = watcher(strike_host, notices__remediation_hours=24.0, strikes__strikes_to_suspend=1)
    host = tweak(host, suspension__notice_period_days=0.0)
    prompt = tweak(jury_only, notices__response_hours=6.0, notices__compliance=1.0)
    r = simulate(quick_sampled, prompt, [host], seed=seed)
    assert len(events(r, "notice")) >= 5  # the host did look, every day
    assert events(r, "strike").empty
    assert not r.suspended
    # The same host with a platform that lets the window pass is suspended at
    # once: the rule can fail.
    late = tweak(prompt, notices__response_hours=30.0)
    assert simulate(quick_sampled, late, [host], seed=seed).suspended


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    ("window", "strikes", "period_days"), [(36.0, 2, 1.0), (24.0, 3, 0.5), (50.0, 1, 2.0)]
)
def test_platform_that_removes_nothing_is_suspended_when_the_rule_says(
    quick_sampled: Scenario,
    jury_only: PlatformPolicy,
    strike_host: HostPolicy,
    seed: int,
    window: float,
    strikes: int,
    period_days: float,
) -> None:
    host = watcher(
        strike_host,
        notices__remediation_hours=window,
        strikes__strikes_to_suspend=strikes,
        suspension__notice_period_days=period_days,
    )
    r = simulate(quick_sampled, do_nothing(jury_only), [host], seed=seed)
    # From the rule alone: notice i goes out at 24 i (the host's cadence); it
    # fails at its deadline 24 i + window, the moment it is judged (not at a
    # later check); the k-th failure starts the notice period.
    judged = 24.0 * strikes + window
    expected = judged + 24.0 * period_days
    assert expected < quick_sampled.hours  # the test world is long enough
    suspension = events(r, "suspension")
    assert len(suspension) == 1
    assert suspension["hour"].iloc[0] == pytest.approx(expected)
    assert r.summary["enforcement"]["suspended_by"] == "watcher"
    assert (events(r, "strike")["hour"] <= judged).sum() == strikes
    assert events(r, "suspension_notice")["hour"].tolist() == [judged]


@pytest.mark.parametrize("seed", SEEDS)
def test_emergency_fires_before_the_notice_period_only_when_its_condition_holds(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy, seed: int
) -> None:
    # One strike starts a 30-day notice period: longer than the run. Letters go
    # out the moment a post is found, so notice times are the find times.
    host = watcher(
        strike_host,
        detection__outside_reports_per_million_views=2000.0,
        notices__every_hours=None,
        strikes__strikes_to_suspend=1,
        suspension__notice_period_days=30.0,
    )
    platform = do_nothing(jury_only)
    calm = simulate(quick_sampled, platform, [host], seed=seed)
    assert not calm.suspended
    finds = np.repeat(events(calm, "notice")["hour"].to_numpy(), events(calm, "notice")["posts"])
    # Finds in the 24 hours up to and including each find.
    in_day = np.searchsorted(finds, finds, side="right") - np.searchsorted(
        finds, finds - 24.0, side="right"
    )
    assert len(finds) >= 10 and in_day.max() > in_day.min()
    limit = int(np.sort(in_day)[len(in_day) // 2]) + 1
    expected = finds[np.argmax(in_day >= limit)]  # the limit-th find within a day
    armed = tweak(
        host,
        suspension__emergency__enabled=True,
        suspension__emergency__signals={"found_posts": {"threshold": float(limit)}},
        suspension__emergency__notice_hours=6.0,
    )
    r = simulate(quick_sampled, platform, [armed], seed=seed)
    emergency = events(r, "emergency")
    assert emergency["hour"].tolist() == [expected]
    assert events(r, "suspension")["hour"].tolist() == [pytest.approx(expected + 6.0)]
    assert expected + 6.0 < 24.0 * 30  # before the notice period would have ended
    trip = r.summary["enforcement"]["enforcers"][0]["decided_by"]
    assert trip["rule"] == "emergency" and trip["hour"] == expected
    assert trip["signals"][0]["value"] == limit and trip["signals"][0]["threshold"] == limit
    # A line never crossed: no emergency, no suspension within the run.
    never = tweak(
        armed,
        suspension__emergency__signals={"found_posts": {"threshold": float(in_day.max() + 1)}},
    )
    r2 = simulate(quick_sampled, platform, [never], seed=seed)
    assert events(r2, "emergency").empty and not r2.suspended


@pytest.mark.parametrize("seed", SEEDS)
def test_two_enforcers_act_independently(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy, seed: int
) -> None:
    # Neither removes the platform within the run, and the platform ignores
    # notices, so neither can change what the other sees.
    slow = {"strikes__strikes_to_suspend": 50}
    host = watcher(strike_host, "host", detection__outside_reports_per_million_views=500.0, **slow)
    store = watcher(
        strike_host,
        "store",
        detection__outside_reports_per_million_views=200.0,
        notices__remediation_hours=24.0,
        **slow,
    )
    store = tweak(store, effect="delist", new_user_share=0.5)
    platform = do_nothing(jury_only)
    both = simulate(quick_sampled, platform, [host, store], seed=seed).timeline
    reverse = simulate(quick_sampled, platform, [store, host], seed=seed).timeline
    cols = ["hour", "event", "posts", "detail"]
    for enforcer in (host, store):
        alone = simulate(quick_sampled, platform, [enforcer], seed=seed).timeline
        mine = both[both["enforcer"] == enforcer.name][cols].reset_index(drop=True)
        assert not mine.empty
        pd.testing.assert_frame_equal(mine, alone[cols].reset_index(drop=True))
        swapped = reverse[reverse["enforcer"] == enforcer.name][cols].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, swapped)
    # Their timelines differ: they are two enforcers, not one counted twice.
    assert len(both[both["enforcer"] == "host"]) != len(both[both["enforcer"] == "store"]) or (
        both[both["enforcer"] == "host"]["posts"].sum()
        != both[both["enforcer"] == "store"]["posts"].sum()
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_a_delisting_thins_new_posts_and_a_takedown_ends_the_run(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy, seed: int
) -> None:
    platform = do_nothing(jury_only)
    # The store delists at its first failed deadline (hour 36); the host takes
    # the platform down after three (hour 84 plus one day's notice).
    store = watcher(
        strike_host, "store", notices__remediation_hours=12.0, strikes__strikes_to_suspend=1
    )
    store = tweak(store, effect="delist", suspension__notice_period_days=0.0)
    host = watcher(
        strike_host,
        "host",
        notices__remediation_hours=12.0,
        strikes__strikes_to_suspend=3,
        suspension__notice_period_days=1.0,
    )
    base = simulate(quick_sampled, platform, [host], seed=seed)
    r = simulate(quick_sampled, platform, [store, host], seed=seed)
    delisted = events(r, "delisting", "store")["hour"].tolist()
    taken_down = events(r, "suspension", "host")["hour"].tolist()
    # Notices at 24, 48, 72 (the cadence) fail at 36, 60 and 84.
    assert delisted == [36.0] and taken_down == [84.0 + 24.0]
    assert r.summary["enforcement"]["suspended_by"] == "host"  # the store did not end the run
    lost = r.summary["enforcement"]["posts_not_made_while_delisted"]
    # Every post the delisting took away is a post the host-only run had, and
    # nothing else changed in the stream before the takedown.
    assert lost > 0
    assert r.summary["posts"]["created"] + lost == base.summary["posts"]["created"]
    assert r.summary["enforcement"]["legitimate_speech_lost"]["posts_not_made_while_delisted"] > 0


def test_delisting_loses_the_growth_since_the_removal(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    # Users grow from 20,000 to 30,000 over the week; a store with every new
    # user delists at hour 36 (its first failed deadline), so posts of the days
    # that start after it are kept at users(36) / users(t).
    store = watcher(
        strike_host, "store", notices__remediation_hours=12.0, strikes__strikes_to_suspend=1
    )
    store = tweak(store, effect="delist", suspension__notice_period_days=0.0)
    platform = do_nothing(jury_only)
    lost = kept = 0.0
    expected_lost = 0.0
    from simulator.stream.synthetic import _interp_users, hourly_rates

    rates = hourly_rates(quick_sampled)
    hours = np.arange(48, int(quick_sampled.hours))
    users = _interp_users(quick_sampled, hours + 0.5)
    base_users = _interp_users(quick_sampled, np.array([36.0]))[0]
    expected_lost = float((rates[hours] * (1 - base_users / users)).sum())
    for seed in SEEDS:
        e = simulate(quick_sampled, platform, [store], seed=seed).summary["enforcement"]
        lost += e["posts_not_made_while_delisted"]
        kept += 1
    mean = lost / kept
    # Poisson-like count: allow four standard errors of the mean.
    assert abs(mean - expected_lost) < 4 * math.sqrt(expected_lost / kept) + 1


@pytest.mark.parametrize("seed", SEEDS)
def test_reinstatement_after_remediation(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy, seed: int
) -> None:
    # The platform ignores the store until delisted... then the store's rule
    # only needs every found post down and a quiet spell.
    store = watcher(
        strike_host,
        "store",
        detection__outside_reports_per_million_views=300.0,
        notices__every_hours=None,  # a letter at each find: notice times are find times
        notices__remediation_hours=12.0,
        strikes__strikes_to_suspend=1,
        strikes__warning_at=None,
    )
    store = tweak(
        store,
        effect="delist",
        suspension__notice_period_days=0.0,
        reinstatement__enabled=True,
        reinstatement__clean_hours=24.0,
    )
    fast = tweak(jury_only, notices__response_hours=13.0, notices__compliance=1.0)
    r = simulate(quick_sampled, fast, [store], seed=seed)
    tl = r.timeline
    kinds = tl["event"].tolist()
    if "delisting" not in kinds:
        pytest.skip("no notice failed on this seed")
    found_before = tl[tl["event"] == "notice"]["hour"]
    back = events(r, "reinstatement")
    if back.empty:
        # Then the store kept finding posts: a notice within 24 h of every check.
        last = found_before.max()
        assert last >= quick_sampled.hours - 48
    else:
        t_back = back["hour"].iloc[0]
        t_gone = events(r, "delisting")["hour"].iloc[0]
        assert t_back >= t_gone + 24.0
        # No notice (so nothing newly found) in the quiet spell before it.
        assert not ((found_before > t_back - 24.0) & (found_before < t_back)).any()


@pytest.mark.parametrize("seed", SEEDS)
def test_known_posts_rule_strikes_and_warns_on_schedule(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy, seed: int
) -> None:
    host = watcher(
        strike_host,
        notices__every_hours=None,  # a letter at each find: notice times are find times
        strikes__signals={"known_posts_up": {"threshold": 1.0, "after_hours": 30.0}},
        strikes__strikes_to_suspend=3,
        strikes__warning_at=1,
        suspension__notice_period_days=30.0,
    )
    r = simulate(quick_sampled, do_nothing(jury_only), [host], seed=seed)
    strikes = events(r, "strike")["hour"].tolist()
    found = np.repeat(events(r, "notice")["hour"].to_numpy(), events(r, "notice")["posts"])
    # Nothing comes down, so each found post is a strike 30 hours after it was
    # found (each strike uses up its evidence), to the minute.
    assert strikes[:3] == pytest.approx((found[:3] + 30.0).tolist())
    assert events(r, "warning")["hour"].tolist() == [strikes[0]]
    assert events(r, "suspension_notice")["hour"].tolist() == [strikes[2]]
    # A platform that removes noticed posts within the day never fails this rule.
    quick_fix = tweak(jury_only, notices__response_hours=1.0, notices__compliance=1.0)
    assert events(simulate(quick_sampled, quick_fix, [host], seed=seed), "strike").empty


def test_notice_desk_capacity_spaces_removals_and_keeps_the_same_posts() -> None:
    ids = np.arange(10, dtype=np.int64)
    free = NoticeDesk(tweak_handling(response_hours=2.0, compliance=0.5))
    busy = NoticeDesk(tweak_handling(response_hours=2.0, compliance=0.5, staff_per_day=48.0))
    a = free.act(10.0, ids, np.random.default_rng(1))
    b = busy.act(10.0, ids, np.random.default_rng(1))
    np.testing.assert_array_equal(a.post_ids, b.post_ids)  # capacity never changes who
    assert (a.removed_at == 12.0).all()
    np.testing.assert_allclose(b.removed_at, 12.0 + 0.5 * np.arange(1, len(b.post_ids) + 1))
    # A second notice waits for the desk to finish the first.
    c = busy.act(11.0, ids, np.random.default_rng(2))
    assert c.removed_at[0] == pytest.approx(b.removed_at[-1] + 0.5)


def tweak_handling(**changes: object):
    from simulator.config.policy import NoticeHandling

    return NoticeHandling(**changes)  # type: ignore[arg-type]


def test_noticed_posts_that_jump_the_queue_come_down_sooner(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    host = watcher(strike_host, detection__outside_reports_per_million_views=200.0)
    host = tweak(host, strikes__strikes_to_suspend=50)
    # A slow notice desk and a small jury, so jumping the jury's line is what
    # can make noticed posts come down sooner.
    slow = tweak(
        jury_only, notices__response_hours=96.0, jury__pool_size=300, jury__active_share=0.03
    )
    jump = tweak(slow, notices__jump_queue=True)
    gained = 0
    for seed in SEEDS:
        a = simulate(quick_sampled, slow, [host], seed=seed)
        b = simulate(quick_sampled, jump, [host], seed=seed)
        # Noticed posts nobody had reported get a jury case of their own.
        assert len(b.cases["jury"]) > len(a.cases["jury"])
        gained += b.summary["violating"]["removed"] - a.summary["violating"]["removed"]
    assert gained > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_a_notice_sweep_sends_lookalikes_to_review(
    quick_sampled: Scenario, ai_first: PlatformPolicy, strike_host: HostPolicy, seed: int
) -> None:
    host = watcher(strike_host, detection__outside_reports_per_million_views=200.0)
    host = tweak(host, strikes__strikes_to_suspend=50)
    sweep = tweak(
        ai_first,
        notices__sweep__enabled=True,
        notices__sweep__review_above=0.3,
        notices__sweep__lookback_hours=48.0,
        notices__response_hours=2.0,
    )
    a = simulate(quick_sampled, ai_first, [host], seed=seed)
    b = simulate(quick_sampled, sweep, [host], seed=seed)
    notices = events(b, "notice")["hour"].to_numpy()
    staff_a, staff_b = a.cases["staff"], b.cases["staff"]
    extra = len(staff_b) - len(staff_a)
    assert extra > 0
    # Swept cases arrive exactly when the platform acts on a notice.
    arrivals = set(np.round(staff_b["arrived"].to_numpy(), 9))
    assert {round(h + 2.0, 9) for h in notices if h + 2.0 < quick_sampled.hours} <= arrivals
    # And they remove more violating posts.
    assert b.summary["violating"]["removed"] >= a.summary["violating"]["removed"]


def test_weekly_thresholds_add_up_to_the_overall_table(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    r = simulate(quick_sampled, jury_only, [strike_host], seed=4)
    weekly = r.within_weekly.groupby("threshold_hours")[["eligible", "breaches"]].sum()
    overall = r.within.set_index("threshold_hours")[["eligible", "breaches"]]
    pd.testing.assert_frame_equal(weekly, overall, check_names=False, check_dtype=False)
    assert 72.0 in set(r.within["threshold_hours"])  # the host's window is a threshold


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reinstatement__enabled": True}, "reinstatement.enabled needs effect 'delist'"),
        ({"strikes__warning_at": 3}, "warning_at"),
        ({"new_user_share": 0.5}, "new_user_share applies to effect 'delist'"),
    ],
)
def test_inconsistent_enforcer_rules_are_rejected(
    strike_host: HostPolicy, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        tweak(strike_host, **changes)


def test_duplicate_enforcer_names_are_an_error(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    from simulator.errors import ModsimError

    with pytest.raises(ModsimError, match="distinct names"):
        simulate(quick_sampled, jury_only, [strike_host, strike_host], seed=1)


_ = ConfigError
