"""How one enforcer learns of live violating posts, channel by channel.

* **outside reports**: a Poisson process in each post's views
  (``outside_reports_per_million_views``);
* **audits**: every ``audit.every_days``, a sample of live posts;
* the **harm watch**: harmful views per hour (:mod:`simulator.enforcement.harm`)
  reaching the press's line start press attention;
* **press reports**: while attention lasts, another Poisson process in views.

A host may weigh policy areas (``detection.area_weights``). The weight is the
area's share of the host's *attention*, one number per post applied here and
nowhere else: a post of weight ``w`` is reported ``w`` times as often per view
by outsiders and by the press, its views count ``w`` times towards harmful
views per hour, and an audit draws it ``w`` times as readily as a legitimate
post. Weight 0 hides an area from every channel; weights of 1 change nothing.
What reaches the enforcer is then counted post by post, as without weights.
"""

from __future__ import annotations

import math

import numpy as np

from simulator.config.host import Detection
from simulator.enforcement.harm import HarmWatch
from simulator.enforcement.records import PlatformView
from simulator.seeding import SeedTree
from simulator.stream.synthetic import Posts, view_driven_times


class Channels:
    """An enforcer's detection channels: when reports reach it, what its audits
    pick, and when the press takes notice. Random draws are keyed by ``name``."""

    def __init__(
        self,
        detection: Detection,
        name: str,
        seeds: SeedTree,
        area_weights: np.ndarray | None = None,
    ) -> None:
        self._detection = detection
        self._name = name
        self._seeds = seeds
        # per class: the area's weight in this host's attention (null: all alike)
        self._area_weights = area_weights
        self._weighed_ids: list[np.ndarray] = []  # the weight of every post observed
        self._weighed: list[np.ndarray] = []
        self._per_view = detection.outside_reports_per_million_views / 1e6
        # Reports on their way (time-sorted, consumed by a cursor): (time, post id).
        self._cand_t = np.empty(0)
        self._cand_id = np.empty(0, dtype=np.int64)
        self._cand_pos = 0
        audit = detection.audit
        self.next_audit = audit.every_days * 24.0 if audit.sample_size > 0 else math.inf
        # Press escalation: every violating post observed, to draw press reports
        # once attention starts (memoryless in views, so exact after the fact).
        press = detection.press
        self._press_on = press.enabled and press.reports_per_million_views > 0
        self._watch = HarmWatch(press.trigger_views_per_hour) if press.enabled else None
        self._press_window: tuple[float, float] | None = None
        self._seen: list[tuple[np.ndarray, ...]] = []

    def _weigh(self, cls: np.ndarray, ids: np.ndarray) -> np.ndarray | None:
        """The attention weight of each post (None: every post alike); kept for audits."""
        if self._area_weights is None:
            return None
        w = self._area_weights[cls]
        self._weighed_ids.append(ids)
        self._weighed.append(w)
        return w

    def _weights_of(self, ids: np.ndarray) -> np.ndarray:
        """The weight recorded for each of ``ids`` (observed posts)."""
        if not self._weighed_ids:
            return np.zeros(len(ids))
        if len(self._weighed_ids) > 1:
            known = np.concatenate(self._weighed_ids)
            order = np.argsort(known, kind="stable")
            self._weighed_ids = [known[order]]
            self._weighed = [np.concatenate(self._weighed)[order]]
        return self._weighed[0][np.searchsorted(self._weighed_ids[0], ids)]

    # -- what it is shown ------------------------------------------------------------------

    def observe(self, violating: Posts, day: int) -> None:
        """Draw when outside (and press) reports about these violating posts reach us."""
        if len(violating) == 0:
            return
        weight = self._weigh(violating.cls, violating.post_id)
        if self._per_view > 0:
            rng = self._seeds.rng("enforcer", self._name, day)
            per_view = np.full(len(violating), self._per_view)
            if weight is not None:
                per_view = per_view * weight
            seen = view_driven_times(violating, per_view, 1, rng)
            self._add_candidates(seen, violating.post_id)
        if self._watch is not None and self._press_window is None:
            reach = violating.reach if weight is None else violating.reach * weight
            self._watch.add(violating.post_id, violating.created_at, reach, violating.decay)
        if self._press_on:
            # One exponential per post: where, in views after attention starts,
            # its first press report falls.
            gap = self._seeds.rng("press", self._name, day).standard_exponential(len(violating))
            rate = self._detection.press.reports_per_million_views / 1e6
            per_view = np.full(len(violating), rate) if weight is None else rate * weight
            cols = (violating.post_id, violating.created_at, violating.reach, violating.decay)
            if self._press_window is None:
                self._seen.append((*cols, gap, per_view))
            else:
                self._add_press_reports((*cols, gap, per_view))

    def _add_candidates(self, times: np.ndarray, ids: np.ndarray) -> None:
        keep = np.isfinite(times)
        t = np.concatenate([self._cand_t[self._cand_pos :], times[keep]])
        i = np.concatenate([self._cand_id[self._cand_pos :], ids[keep]])
        order = np.lexsort((i, t))
        self._cand_t, self._cand_id, self._cand_pos = t[order], i[order], 0

    def _add_press_reports(self, cols: tuple[np.ndarray, ...]) -> None:
        assert self._press_window is not None
        start, end = self._press_window
        ids, created, reach, decay, gap, rate = cols
        # Views already accrued when attention starts; the next report comes
        # ``gap / rate`` views later (a Poisson process in views is memoryless).
        before = reach * -np.expm1(-decay * np.maximum(start - created, 0.0))
        heard = rate > 0
        target = np.full(len(ids), np.inf)
        target[heard] = before[heard] + gap[heard] / rate[heard]
        hit = target < reach
        times = np.full(len(ids), np.inf)
        age = -np.log1p(-target[hit] / reach[hit]) / decay[hit]
        times[hit] = created[hit] + age
        times[times >= end] = np.inf
        self._add_candidates(times, ids)

    # -- reports ---------------------------------------------------------------------------

    def next_report(self) -> float:
        """When the next outside or press report reaches the enforcer (``inf``: none due)."""
        return self._cand_t[self._cand_pos] if self._cand_pos < len(self._cand_t) else math.inf

    def take_report(self) -> int:
        """The post of the report :meth:`next_report` announced."""
        pid = int(self._cand_id[self._cand_pos])
        self._cand_pos += 1
        return pid

    # -- audits ----------------------------------------------------------------------------

    def audit(self, when: float, platform: PlatformView) -> np.ndarray:
        """The violating posts the audit due at ``when`` picks (sorted ids); the next
        audit is then due ``every_days`` later."""
        audit = self._detection.audit
        rng = self._seeds.rng("audit", self._name, int(when))
        live = platform.live_violating(when)
        total = max(platform.live_posts(when), float(len(live)), 1.0)
        if self._area_weights is None:
            share, weight = len(live) / total, None
        else:
            # every legitimate post weighs 1, so the weighted violating share is
            weight = self._weights_of(live)
            drawn = float(weight.sum())
            share = drawn / (total - len(live) + drawn) if drawn > 0 else 0.0
        k = min(int(rng.binomial(audit.sample_size, min(1.0, share))), len(live))
        self.next_audit += audit.every_days * 24.0
        if not k:
            return np.empty(0, dtype=np.int64)
        if weight is None or weight.min() == weight.max():
            # equal weights draw uniformly: the same draws as without weights
            return np.sort(rng.choice(live, size=k, replace=False))
        k = min(k, int(np.count_nonzero(weight)))
        return np.sort(rng.choice(live, size=k, replace=False, p=weight / weight.sum()))

    # -- the press ---------------------------------------------------------------------------

    def press_candidate(self, now: float, platform: PlatformView) -> float:
        """The next moment the press may take notice (``inf``: not with the posts seen)."""
        if self._watch is None or self._press_window is not None:
            return math.inf
        return self._watch.next_candidate(now, platform)

    def press_check(self, when: float, platform: PlatformView) -> float | None:
        """At a candidate moment: the harmful view rate if it reached the press's line
        (attention starts: press reports are drawn from then), else ``None``."""
        assert self._watch is not None
        rate = self._watch.crossed(when, platform)
        if rate is None:
            return None
        press = self._detection.press
        self._press_window = (when, when + press.hours)
        self._watch = None
        if self._press_on:
            for cols in self._seen:
                self._add_press_reports(cols)
        self._seen = []  # later posts get their press reports as they are observed
        return rate
