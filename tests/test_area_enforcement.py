"""Enforcers and user reports that treat policy areas differently: a host's
``detection.area_weights`` on every detection channel, and user reports routed
to a review team per area (``reports.areas``)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import ROOT
from test_areas import per_area, small

import simulator
from simulator.config import HostPolicy, Scenario, load_file
from simulator.enforcement.detection import Channels
from simulator.enforcement.harm import HarmWatch
from simulator.engine import Simulation
from simulator.errors import ConfigError
from simulator.runlog import RunLog
from simulator.seeding import SeedTree
from simulator.stream.synthetic import Posts

HOST = ROOT / "policies" / "host-notice-and-strike.yaml"

# One channel at a time, on a host that never removes the platform (so it watches
# the whole run): outside reports, audits, or the press (a line any surge reaches).
QUIET = {
    "detection.outside_reports_per_million_views": 0.0,
    "detection.press.enabled": False,
    "suspension.emergency.enabled": False,
    "strikes.strikes_to_suspend": 100,
}
CHANNELS: dict[str, dict[str, Any]] = {
    "outside reports": {"detection.outside_reports_per_million_views": 20_000.0},
    "audits": {"detection.audit.every_days": 0.25, "detection.audit.sample_size": 2_000_000},
    "press": {
        "detection.press.enabled": True,
        "detection.press.trigger_views_per_hour": 50.0,
        "detection.press.reports_per_million_views": 20_000.0,
        "detection.press.hours": 72.0,
    },
}


def host(channel: str, **more: Any) -> HostPolicy:
    h = simulator.load(HOST, overrides={**QUIET, **CHANNELS[channel], **more})
    assert isinstance(h, HostPolicy)
    return h


def world() -> Scenario:
    return small(days=3)


def run(h: HostPolicy, seed: int = 1) -> tuple[Simulation, RunLog]:
    # nothing is removed by the platform: every violating post stays up to be found
    pol = per_area(**{"reports.enabled": False, "prefilter.enabled": False})
    sim = Simulation(world(), pol, [h], seed=seed)
    return sim, sim.run()


def named_areas(log: RunLog) -> np.ndarray:
    named = np.concatenate([n.post_ids for n in log.notices] or [np.empty(0, dtype=np.int64)])
    v = log.violating.set_index("post_id")
    return world().taxonomy.area_of[v.loc[named, "cls"].cat.codes.to_numpy()]


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_a_host_weighing_only_terrorism_finds_counts_and_names_only_terrorist_posts(
    channel: str,
) -> None:
    terrorism = world().taxonomy.area_index("terrorism")
    sim, log = run(host(channel, **{"detection.area_weights": {"terrorism": 1.0, "default": 0}}))
    areas = named_areas(log)
    assert len(areas) >= 4
    assert (areas == terrorism).all()
    enforcer = sim.enforcers[0]
    found = sum(n for _, n in enforcer.evidence("found_posts"))
    made = int((world().taxonomy.area_of[log.violating["cls"].cat.codes] == terrorism).sum())
    assert 0 < found <= made
    if channel == "audits":
        # an audit counts only the area it weighs: its picks are terrorist posts
        assert 0 < sum(k for _, k in enforcer.evidence("audit_prevalence")) <= made * 12
    # the same host without weights names posts of other areas by the same channel
    plain = named_areas(run(host(channel))[1])
    assert (plain != terrorism).any()


def _mixed_posts(tax: Any, n: int, rng: np.random.Generator) -> Posts:
    cls = rng.choice(
        [tax.index["terrorist_content"], tax.index["spam"], tax.index["hate_speech"]], size=n
    ).astype(np.int8)
    return Posts(
        np.arange(n, dtype=np.int64),
        np.sort(rng.uniform(0, 24, n)),
        cls,
        rng.lognormal(6, 1, n),
        np.full(n, 0.2),
        rng.uniform(size=n),
    )


class _NothingRemoved:
    def removed_at(self, ids: np.ndarray) -> np.ndarray:
        return np.full(len(ids), np.inf)


def _crossing(watch: Channels | HarmWatch, platform: Any) -> float:
    now = 0.0
    while True:
        if isinstance(watch, Channels):
            t = watch.press_candidate(now, platform)
            if math.isinf(t) or watch.press_check(t, platform) is not None:
                return t
        else:
            t = watch.next_candidate(now, platform)
            if math.isinf(t) or watch.crossed(t, platform) is not None:
                return t
        now = t


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_press_line_counts_an_areas_views_by_its_weight(seed: int) -> None:
    tax = world().taxonomy
    posts = _mixed_posts(tax, 400, np.random.default_rng(seed))
    h = host("press")
    weights = tax.area_weights({"terrorism": 3.0, "default": 0.0})
    channels = Channels(h.detection, h.name, SeedTree(seed), weights)
    channels.observe(posts, 0)
    # the same line crossed by the terrorist posts alone, their views counted thrice
    terror = posts.cls == tax.index["terrorist_content"]
    alone = HarmWatch(h.detection.press.trigger_views_per_hour)
    alone.add(
        posts.post_id[terror],
        posts.created_at[terror],
        3 * posts.reach[terror],
        posts.decay[terror],
    )
    platform = _NothingRemoved()
    weighed = _crossing(channels, platform)
    assert weighed == _crossing(alone, platform)
    # and not the moment every violating post together crosses it
    every = Channels(h.detection, h.name, SeedTree(seed))
    every.observe(posts, 0)
    assert _crossing(every, platform) < weighed


def _everything(**more: Any) -> HostPolicy:
    h = simulator.load(
        HOST,
        overrides={
            "detection.outside_reports_per_million_views": 2_000.0,
            **CHANNELS["audits"],
            **CHANNELS["press"],
            "detection.press.reports_per_million_views": 200.0,
            **more,
        },
    )
    assert isinstance(h, HostPolicy)
    return h


@pytest.mark.parametrize("seed", [1, 2])
def test_weights_of_one_everywhere_change_nothing(seed: int) -> None:
    pol = per_area(**{"staff.reviewers": 1})

    def enforcement(h: HostPolicy) -> Any:
        result = simulator.simulate(world(), pol, [h], seed=seed)
        return result.summary["enforcement"], result.summary["areas"]

    base = enforcement(_everything())
    names = [a.name for a in world().taxonomy.areas]
    assert base[0]["enforcers"][0]["notices"] > 0
    assert enforcement(_everything(**{"detection.area_weights": {"default": 1.0}})) == base
    ones = {name: 1.0 for name in names}
    assert enforcement(_everything(**{"detection.area_weights": ones})) == base
    # a weight that is not 1 does change what the host sees (the comparison can fail)
    unheard = enforcement(_everything(**{"detection.area_weights": {**ones, "spam": 0.0}}))
    assert unheard[0]["enforcers"][0]["posts_noticed"] < base[0]["enforcers"][0]["posts_noticed"]


# User reports routed per area -------------------------------------------------------------


def routed_policy(routed: bool, **more: Any) -> Any:
    # only user reports open cases; a jury of 20 falls behind, two staff reviewers do not
    overrides: dict[str, Any] = {
        "prefilter.enabled": False,
        "reports.review_team": "jury",
        "jury.pool_size": 20,
        "jury.accuracy": {"default": 0.9},
        "staff.reviewers": 2,
        "appeals.queue": "jury",
        **more,
    }
    if routed:
        overrides["reports.areas"] = {"terrorism": {"review_team": "staff"}}
    return per_area(**overrides)


def _terrorist_posts(policy: Any, seed: int) -> tuple[Any, Any]:
    parts: list[Any] = []
    result = simulator.simulate(world(), policy, seed=seed, sink=parts.append)
    import pandas as pd

    posts = pd.concat(parts)
    return result, posts[posts["cls"] == "terrorist_content"].set_index("post_id").sort_index()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_terrorism_reports_routed_to_staff_are_reviewed_by_staff_only_and_sooner(
    seed: int,
) -> None:
    _, before = _terrorist_posts(routed_policy(False), seed)
    routed, after = _terrorist_posts(routed_policy(True), seed)
    by = routed.summary["areas"]["terrorism"]["removed_by"]
    assert by["staff"] > 0 and by["jury"] == 0
    assert set(routed.cases["jury"]["post_id"]).isdisjoint(after.index)
    # the other areas' reports still go to the jury only
    assert routed.summary["areas"]["hate"]["removed_by"]["staff"] == 0
    assert routed.summary["areas"]["hate"]["removed_by"]["jury"] > 0
    # the same posts are reported at the same moments either way (keyed draws) ...
    cased = before["reported_at"].notna()
    assert cased.sum() >= 5
    assert before["reported_at"].equals(after["reported_at"])

    # ... and the staff, with time to spare, removes them sooner than the late jury
    def latency(posts: Any) -> float:
        return float((posts["removed_at"].fillna(np.inf) - posts["created_at"])[cased].median())

    assert latency(after) < latency(before)


PER_AREA = ROOT / "policies" / "general-per-area.yaml"


def _routes(tmp_path: Path, routes: str) -> Path:
    text = PER_AREA.read_text().replace(
        "  review_team: staff\nstaff:", f"  review_team: staff\n  areas:\n{routes}staff:"
    )
    assert routes in text
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def test_the_cli_refuses_a_report_route_for_an_area_the_scenario_lacks(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from simulator.cli import app

    pol = _routes(tmp_path, "    scams: {review_team: staff}\n")
    line = pol.read_text().splitlines().index("    scams: {review_team: staff}") + 1
    res = CliRunner().invoke(
        app, ["validate", str(ROOT / "scenarios" / "general-platform.yaml"), str(pol)]
    )
    assert res.exit_code == 2
    assert f"{pol}:{line}: reports.areas.scams: the scenario has no area 'scams'" in res.output
    assert "Traceback" not in res.output


def test_a_report_route_to_a_team_without_reviewers_is_refused(tmp_path: Path) -> None:
    pol = _routes(tmp_path, "    terrorism: {review_team: jury}\n")
    message = "reports.areas.terrorism.review_team is 'jury' but jury.pool_size is 0"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_file(pol)


def test_the_load_check_splits_reports_by_the_team_each_area_goes_to() -> None:
    from simulator.checks import team_loads

    sc = world()
    whole = team_loads(sc, routed_policy(False))
    split = team_loads(sc, routed_policy(True))
    assert [t.team for t in whole] == ["jury"]
    assert sorted(t.team for t in split) == ["jury", "staff"]
    # the reports leave the jury's queue for the staff's, none lost
    total = sum(t.peak_per_hour for t in split)
    jury = next(t for t in split if t.team == "jury")
    assert jury.peak_per_hour < whole[0].peak_per_hour <= total + 1e-9


def test_noticed_posts_nobody_queued_go_to_their_areas_report_team() -> None:
    # no user reports: a post reaches review only when a notice names it and it jumps
    # the queue, to the team its area's reports would go to
    pol = routed_policy(True, **{"reports.enabled": False, "notices.jump_queue": True})
    h = host("outside reports")
    result = simulator.simulate(world(), pol, [h], seed=2)
    tax = world().taxonomy
    v = result.violating.set_index("post_id")

    def areas(team: str) -> np.ndarray:
        ids = result.cases[team]["post_id"]
        ids = ids[ids.isin(v.index)]
        return tax.area_of[v.loc[ids, "cls"].cat.codes.to_numpy()]

    terrorism = tax.area_index("terrorism")
    staff, jury = areas("staff"), areas("jury")
    assert len(staff) > 0 and (staff == terrorism).all()
    assert len(jury) > 0 and (jury != terrorism).all()
