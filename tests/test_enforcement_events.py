"""Enforcers watch continuously (issue 17): a rule fires at the event that tips
it, whatever the chunk size; decisions follow what the enforcer observes of
the platform's moderation, so the platform's capacity and its prefilter move
them. Expected times are derived here from the rules and from what a calm run
(one whose rules cannot fire) observed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import tweak

from simulator.api import simulate
from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.config.host import Notices, OfficeHours
from simulator.enforcement import LetterClock
from simulator.enforcement.harm import HarmWatch, view_rates
from simulator.engine import Simulation

SEEDS = [1, 2, 3]
NEVER = {"strikes__strikes_to_suspend": 1000, "strikes__warning_at": None}


def continuous(host: HostPolicy, name: str = "watcher", **changes: object) -> HostPolicy:
    """A host that hears of many posts and writes the moment it finds one."""
    base: dict[str, object] = {
        "name": name,
        "detection__outside_reports_per_million_views": 2000.0,
        "detection__audit__sample_size": 0,
        "detection__press__enabled": False,
        "notices__every_hours": None,
        "notices__min_posts": 1,
        "suspension__emergency__enabled": False,
        "suspension__notice_period_days": 30.0,
    }
    base.update(changes)
    return tweak(host, **base)


def do_nothing(policy: PlatformPolicy) -> PlatformPolicy:
    return tweak(policy, reports__enabled=False, notices__compliance=0.0)


def hours_of(result, kind: str) -> list[float]:
    tl = result.timeline
    return tl[tl["event"] == kind]["hour"].tolist()


def find_times(result) -> np.ndarray:
    """With a letter at each find, the notices are the finds."""
    tl = result.timeline
    n = tl[tl["event"] == "notice"]
    return np.repeat(n["hour"].to_numpy(), n["posts"].to_numpy())


@pytest.mark.parametrize("seed", SEEDS)
def test_emergency_fires_at_the_kth_find_whatever_the_chunk_size(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy, seed: int
) -> None:
    host = continuous(strike_host, **NEVER)
    platform = do_nothing(jury_only)
    finds = find_times(simulate(quick_sampled, platform, [host], seed=seed))
    k = 12
    in_day = np.searchsorted(finds, finds, side="right") - np.searchsorted(
        finds, finds - 24.0, side="right"
    )
    assert in_day.max() >= k
    expected = float(finds[np.argmax(in_day >= k)])  # the k-th find within 24 hours
    assert not math.isclose(expected % 1.0, 0.0, abs_tol=1e-6)  # not a grid point
    armed = tweak(
        host,
        suspension__emergency__enabled=True,
        suspension__emergency__signals={"found_posts": {"threshold": float(k)}},
        suspension__emergency__notice_hours=6.0,
    )
    for chunk_days in (1, 3, 7):
        r = simulate(quick_sampled, platform, [armed], seed=seed, chunk_days=chunk_days)
        assert hours_of(r, "emergency") == [expected], chunk_days
        assert hours_of(r, "suspension") == [pytest.approx(expected + 6.0)]
        why = r.summary["enforcement"]["why"]
        assert why.startswith(
            f"emergency clause: {k} violating posts found in 24 h (threshold {k})"
        )


@pytest.mark.parametrize("seed", SEEDS)
def test_a_platform_that_clears_every_noticed_post_in_the_window_is_never_struck(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy, seed: int
) -> None:
    host = continuous(
        strike_host,
        detection__outside_reports_per_million_views=500.0,
        notices__remediation_hours=24.0,
        strikes__signals={
            "noticed_posts_up": {"threshold": 1.0},
            "repeat_offences": {"threshold": 1.0},
            "known_posts_up": {"threshold": 1.0, "after_hours": 30.0},
        },
        strikes__strikes_to_suspend=1,
        suspension__notice_period_days=0.0,
    )
    prompt = tweak(jury_only, notices__response_hours=12.0, notices__compliance=1.0)
    r = simulate(quick_sampled, prompt, [host], seed=seed)
    notices = hours_of(r, "notice")
    assert len(notices) >= 5
    assert hours_of(r, "strike") == [] and not r.suspended
    # Late by a few hours: struck at a notice's deadline, to the minute (the
    # first notice whose posts the jury did not take down in time).
    late = simulate(quick_sampled, tweak(prompt, notices__response_hours=26.0), [host], seed=seed)
    struck = hours_of(late, "strike")[0]
    assert min(abs(struck - (n + 24.0)) for n in hours_of(late, "notice")) < 1e-9
    assert late.suspended


def test_a_larger_jury_lowers_the_backlog_the_platform_states_and_the_decision_moves(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    host = continuous(strike_host, detection__outside_reports_per_million_views=300.0, **NEVER)
    small, large = (tweak(jury_only, jury__pool_size=n) for n in (60, 600))

    def stated(policy: PlatformPolicy, h: HostPolicy, seed: int) -> tuple[Simulation, float]:
        sim = Simulation(quick_sampled, policy, [h], seed=seed)
        sim.run()
        told = [v for _, v in sim.enforcers[0].evidence("backlog_reports")]
        assert told, "the platform answered no notice"
        return sim, max(told)

    for seed in SEEDS:
        _, high = stated(small, host, seed)
        _, low = stated(large, host, seed)
        assert low < high  # same posts, same finds: the capacity is what differs
        line = (low + high) / 2
        armed = tweak(
            host,
            suspension__emergency__enabled=True,
            suspension__emergency__signals={"backlog_reports": {"threshold": float(line)}},
            suspension__emergency__notice_hours=1.0,
        )
        r_small = simulate(quick_sampled, small, [armed], seed=seed)
        r_large = simulate(quick_sampled, large, [armed], seed=seed)
        assert r_small.suspended and not r_large.suspended
        trip = r_small.summary["enforcement"]["enforcers"][0]["decided_by"]
        assert trip["signals"][0]["signal"] == "backlog_reports"
        assert trip["signals"][0]["value"] >= line
        # The platform's own figures at that moment back what it stated.
        assert trip["platform"]["reports_waiting"] >= line


def test_a_prefilter_lowers_what_the_enforcer_finds_and_averts_its_emergency(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    host = continuous(strike_host, detection__outside_reports_per_million_views=500.0, **NEVER)
    screened = tweak(
        jury_only,
        prefilter__enabled=True,
        prefilter__auto_remove_above=0.5,
        prefilter__review_above=0.5,
        prefilter__review_team="jury",
        prefilter__delay_minutes=5.0,
        prefilter__model__train_per_class=300,
    )
    for seed in SEEDS:
        runs = {}
        for name, policy in (("jury", jury_only), ("screened", screened)):
            sim = Simulation(quick_sampled, policy, [host], seed=seed)
            sim.run()
            runs[name] = sum(v for _, v in sim.enforcers[0].evidence("found_views"))
        assert runs["screened"] < 0.5 * runs["jury"]
        line = (runs["screened"] + runs["jury"]) / 2
        armed = tweak(
            host,
            suspension__emergency__enabled=True,
            suspension__emergency__signals={
                "found_views": {"threshold": float(line), "window_hours": None}
            },
            suspension__emergency__notice_hours=1.0,
        )
        assert simulate(quick_sampled, jury_only, [armed], seed=seed).suspended
        assert not simulate(quick_sampled, screened, [armed], seed=seed).suspended


@pytest.mark.parametrize("seed", SEEDS)
def test_press_attention_starts_the_moment_harmful_views_cross_its_line(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy, seed: int
) -> None:
    quiet = continuous(strike_host, detection__outside_reports_per_million_views=0.0, **NEVER)
    base = simulate(quick_sampled, jury_only, [quiet], seed=seed)
    v = base.violating
    created = v["created_at"].to_numpy()
    removed = np.nan_to_num(v["removed_at"].to_numpy(), nan=np.inf)
    decay = np.full(len(v), math.log(2) / quick_sampled.reach.half_life_hours)
    rate0 = v["reach"].to_numpy() * decay

    def harm(times: np.ndarray) -> np.ndarray:  # brute force, post by post
        t = np.asarray(times)[:, None]
        up = (created <= t) & (removed > t)
        return (np.where(up, rate0 * np.exp(-decay * (t - created)), 0.0)).sum(axis=1)

    hourly = harm(np.arange(0.0, quick_sampled.hours, 0.25))
    line = float(np.quantile(hourly, 0.9))
    press = tweak(
        quiet,
        detection__press__enabled=True,
        detection__press__trigger_views_per_hour=line,
        detection__press__reports_per_million_views=0.0,
    )
    r = simulate(quick_sampled, jury_only, [press], seed=seed)
    (start,) = hours_of(r, "press")
    assert start in set(created)  # a violating post was just made
    assert harm(np.array([start]))[0] >= line
    # Below the line at every moment before (only creations can raise it).
    earlier = np.sort(created[created < start])
    assert (harm(earlier) < line).all()
    pd.testing.assert_frame_equal(r.violating, base.violating)  # watching changes nothing


def test_view_rates_match_the_sum_post_by_post() -> None:
    rng = np.random.default_rng(3)
    n = 400
    created = np.sort(rng.uniform(0, 2000, n))
    decay = rng.choice([0.1, 0.7], n)  # two half-lives, one evaluated in many segments
    reach = rng.lognormal(3, 1.5, n)
    removed = np.where(rng.random(n) < 0.5, created + rng.exponential(10, n), np.inf)
    times = np.sort(rng.uniform(0, 2100, 300))
    t = times[:, None]
    rate0 = reach * decay
    brute = np.where(
        (created <= t) & (removed > t), rate0 * np.exp(-decay * np.maximum(t - created, 0)), 0.0
    ).sum(axis=1)
    for block in (1, 16, 1 << 20):  # the terms a block at a time: the same sum
        got = view_rates(times, created, reach, decay, removed, block=block)
        np.testing.assert_allclose(got, brute, rtol=1e-9)


def test_the_harm_watch_never_proposes_a_moment_after_the_crossing() -> None:
    class Removals:
        def __init__(self, removed: dict[int, float]) -> None:
            self.removed = removed

        def removed_at(self, ids: np.ndarray) -> np.ndarray:
            return np.array([self.removed.get(int(i), math.inf) for i in ids])

    watch = HarmWatch(line=10.0)
    ids = np.arange(5)
    watch.add(ids, np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.full(5, 40.0), np.full(5, 0.1))
    # Each post starts at 4 views an hour: the upper bound reaches 10 at the third post.
    platform = Removals({})
    assert watch.next_candidate(0.0, platform) == 3.0
    # The first post came down at 2.5 (known once the platform ran there): at 3.0
    # the rate is below the line, and the next candidate is the fourth post.
    platform.removed[0] = 2.5
    assert watch.crossed(3.0, platform) is None
    assert watch.next_candidate(3.0, platform) == 4.0
    assert watch.crossed(4.0, platform) == pytest.approx(4 * (1 + math.exp(-0.1) + math.exp(-0.2)))


@pytest.mark.parametrize(
    ("hour", "expected"),
    [
        (0.0, 9.0),  # Monday 00:00 -> Monday 09:00
        (10.5, 10.5),  # Monday 10:30 is in office hours
        (17.0, 24.0 + 9.0),  # closing time -> Tuesday 09:00
        (4 * 24 + 18.0, 7 * 24 + 9.0),  # Friday evening -> Monday 09:00
    ],
)
def test_letters_wait_for_office_hours(hour: float, expected: float) -> None:
    import datetime as dt

    clock = LetterClock(Notices(office_hours=OfficeHours()), dt.datetime(2021, 3, 1))  # a Monday
    assert clock.next(hour) == pytest.approx(expected)
    every6 = LetterClock(
        Notices(every_hours=6.0, office_hours=OfficeHours()), dt.datetime(2021, 3, 1)
    )
    assert every6.next(10.5) == pytest.approx(12.0)  # the cadence, inside office hours
    assert every6.next(16.5) == pytest.approx(24.0 + 12.0)  # 18:00 is closed; 09:00 off-cadence


def test_notices_go_out_only_in_office_hours(
    quick_sampled: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy
) -> None:
    host = continuous(strike_host, **NEVER)
    office = tweak(host, notices__office_hours={"start_hour": 9.0, "end_hour": 17.0})
    a = simulate(quick_sampled, do_nothing(jury_only), [host], seed=1)
    b = simulate(quick_sampled, do_nothing(jury_only), [office], seed=1)
    sent = np.array(hours_of(b, "notice"))
    local = [quick_sampled.local_time(h) for h in sent]
    assert all(t.weekday() < 5 and 9 <= t.hour < 17 for t in local)
    # Every post found is noticed once, in a letter at the next opening (the
    # platform removes nothing, so both hosts find the same posts).
    finds = find_times(a)
    tl = b.timeline
    assert tl[tl["event"] == "notice"]["posts"].sum() == int((finds <= sent.max()).sum())
    assert len(sent) < len(set(finds.tolist()))  # letters gather the finds of closed hours


def test_each_signal_adds_at_most_its_weight_and_a_strike_uses_up_its_evidence() -> None:
    from simulator.config.host import Signals
    from simulator.enforcement.signals import Ledger, Rule

    both = Rule(
        "emergency",
        Signals.model_validate(
            {
                "found_posts": {"threshold": 3.0, "weight": 0.5, "window_hours": 24.0},
                "backlog_age_hours": {"threshold": 30.0, "weight": 0.5, "window_hours": None},
            }
        ),
    )
    ledger = Ledger()
    for t in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):  # far past its threshold...
        ledger.add("found_posts", t, 1.0)
    fires, score, _ = both.judge(ledger, 6.0, {})
    assert not fires and score == pytest.approx(0.5)  # ...it still adds only its weight
    ledger.add("backlog_age_hours", 7.0, 29.0)
    assert not both.judge(ledger, 7.0, {})[0]  # 0.5 + 0.5 * 29 / 30
    ledger.add("backlog_age_hours", 8.0, 31.0)  # the latest statement counts
    assert both.judge(ledger, 8.0, {})[0]
    assert not both.judge(ledger, 30.5, {})[0]  # the finds left the 24-hour window
    slate = ledger.mark()  # what a strike at 8.0 used up
    assert both.judge(ledger, 8.0, slate)[1] == 0.0
    alone = Rule("strike", Signals.model_validate({"found_posts": {"threshold": 3.0}}))
    assert alone.judge(ledger, 3.0, {})[0] and not alone.judge(ledger, 2.0, {})[0]


def test_every_weight_threshold_and_window_is_a_field_by_path(strike_host: HostPolicy) -> None:
    from simulator.config.batch import set_fields
    from simulator.errors import ConfigError

    path = "suspension.emergency.signals.found_posts"
    moved = set_fields(
        strike_host,
        {f"{path}.threshold": 25.0, f"{path}.weight": 0.7, f"{path}.window_hours": 12.0},
    )
    found = moved.suspension.emergency.signals.found_posts
    assert (found.threshold, found.weight, found.window_hours) == (25.0, 0.7, 12.0)
    with pytest.raises(ConfigError, match=f"{path}.weight"):
        set_fields(strike_host, {f"{path}.weight": -1.0})
    with pytest.raises(ConfigError, match=f"{path}.window_hours"):
        set_fields(strike_host, {f"{path}.window_hours": 0.0})


def test_a_run_says_why_in_its_summary_and_reports(
    tmp_path, quick_sampled: Scenario, strike_host: HostPolicy
) -> None:
    import json

    import yaml
    from helpers import ROOT
    from typer.testing import CliRunner

    from simulator.cli import app

    host = continuous(
        strike_host,
        **NEVER,
        suspension__emergency__enabled=True,
        suspension__emergency__signals={"found_posts": {"threshold": 8.0}},
        suspension__emergency__notice_hours=2.0,
    )
    files = {}
    for name, model in (("world", quick_sampled), ("host", host)):
        files[name] = tmp_path / f"{name}.yaml"
        files[name].write_text(yaml.safe_dump(model.model_dump(mode="json"), sort_keys=False))
    out = tmp_path / "run"
    args = ["run", str(files["world"]), "-p", str(ROOT / "policies/jury-only.yaml")]
    args += ["-H", str(files["host"]), "--seed", "2", "--posts", "none", "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    e = json.loads((out / "summary.json").read_text())["enforcement"]
    trip = e["enforcers"][0]["decided_by"]
    assert trip["rule"] == "emergency" and trip["decisive"]
    assert trip["signals"] == [
        {
            "signal": "found_posts",
            "value": 8.0,
            "threshold": 8.0,
            "weight": 1.0,
            "window_hours": 24.0,
            "after_hours": None,
            "contribution": 1.0,
        }
    ]
    assert set(trip["platform"]) == {
        "harmful_views_per_hour",
        "violating_posts_up",
        "reports_waiting",
        "median_wait_hours",
    }
    assert trip["platform"]["harmful_views_per_hour"] > 0
    assert e["why"] == trip["sentence"]
    opening = "emergency clause: 8 violating posts found in 24 h (threshold 8) at "
    assert e["why"].startswith(opening)
    assert "harmful views/h" in e["why"]
    md = (out / "report.md").read_text()
    assert f"- Why: {e['why']}." in md
    assert "## Why the enforcers acted" in md and "emergency clause (decisive)" in md
    html = (out / "report.html").read_text()
    assert "Why the enforcers acted" in html and "found_posts 8 of 8" in html
    assert f"why: {e['why']}" in " ".join(res.output.split())
