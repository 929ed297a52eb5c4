"""Enforcers and user reports that treat policy areas differently: a host's
``detection.area_weights`` on every detection channel, and user reports routed
to a review team per area (``reports.areas``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from helpers import ROOT
from test_areas import per_area, small

import simulator
from simulator.config import HostPolicy, Scenario
from simulator.enforcement.detection import Channels
from simulator.enforcement.harm import HarmWatch
from simulator.engine import Simulation
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
