"""The synthetic post stream: arrivals, classes, reach, latent score draws, texts.

Posts are produced one simulated day at a time, each day from its own seed
(``("stream", day)``), so a day's posts are the same whatever chunk size the
engine uses and whatever policy is being tried (common random numbers).
Everything is vectorised over posts.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.config.common import per_class
from simulator.config.scenario import Population, Scenario
from simulator.seeding import SeedTree

if TYPE_CHECKING:
    from simulator.stream.texts import TextGenerator

LN2 = math.log(2.0)


@dataclass(frozen=True)
class Posts:
    """A batch of posts as columns (all arrays have the same length).

    ``created_at`` is in hours since the scenario start. Views accrue as
    ``reach * (1 - exp(-decay * age))``; ``score_u`` is a uniform draw that
    scale mode turns into a classifier score (the post's rank within its class).
    ``labelled`` is False where the class is an estimate rather than ground
    truth (a replayed log with partial labels); ``None`` means all are truth.
    ``area_u`` (shape ``(posts, screened areas)``) holds the uniforms a prefilter
    per area turns into each area's score where a thinned day drew them
    conditioned (NaN, or ``None`` for all: the prefilter's own keyed draw).
    """

    post_id: np.ndarray
    created_at: np.ndarray
    cls: np.ndarray
    reach: np.ndarray
    decay: np.ndarray
    score_u: np.ndarray
    text: list[str] | None = None
    labelled: np.ndarray | None = None
    area_u: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.post_id)

    def take(self, index: np.ndarray) -> Posts:
        """The posts at an integer or boolean index, in order."""
        idx = np.flatnonzero(index) if index.dtype == bool else index
        text = [self.text[i] for i in idx] if self.text is not None else None
        return Posts(
            self.post_id[idx],
            self.created_at[idx],
            self.cls[idx],
            self.reach[idx],
            self.decay[idx],
            self.score_u[idx],
            text,
            self.labelled[idx] if self.labelled is not None else None,
            self.area_u[idx] if self.area_u is not None else None,
        )

    @staticmethod
    def concat(batches: list[Posts]) -> Posts:
        if not batches:
            return empty_posts()
        texts = None
        if all(b.text is not None for b in batches):
            texts = [t for b in batches for t in (b.text or [])]
        labelled = None
        if any(b.labelled is not None for b in batches):
            labelled = np.concatenate([b.labelled_mask() for b in batches])
        area_u = None
        if any(b.area_u is not None for b in batches):
            width = next(b.area_u.shape[1] for b in batches if b.area_u is not None)
            area_u = np.concatenate(
                [
                    b.area_u if b.area_u is not None else np.full((len(b), width), np.nan)
                    for b in batches
                ]
            )
        return Posts(
            np.concatenate([b.post_id for b in batches]),
            np.concatenate([b.created_at for b in batches]),
            np.concatenate([b.cls for b in batches]),
            np.concatenate([b.reach for b in batches]),
            np.concatenate([b.decay for b in batches]),
            np.concatenate([b.score_u for b in batches]),
            texts,
            labelled,
            area_u,
        )

    def labelled_mask(self) -> np.ndarray:
        """Where the class is ground truth (all True unless a replay estimated some)."""
        if self.labelled is None:
            return np.ones(len(self), dtype=bool)
        return self.labelled


def empty_posts() -> Posts:
    f = np.empty(0, dtype=np.float64)
    return Posts(np.empty(0, dtype=np.int64), f, np.empty(0, dtype=np.int8), f, f, f, [])


def views_at(reach: np.ndarray, decay: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Views a post has accrued at a given age (hours); closed form."""
    age = np.maximum(age, 0.0)
    return reach * -np.expm1(-decay * age)


class SyntheticStream:
    """Generates a scenario's posts day by day."""

    def __init__(self, scenario: Scenario, seeds: SeedTree, with_text: bool | None = None) -> None:
        self._scenario = scenario
        self._seeds = seeds
        self._with_text = scenario.content.texts.mode == "text" if with_text is None else with_text
        self._hourly_rate = hourly_rates(scenario)
        self._class_probs = hourly_class_probs(scenario)
        self._texts = None
        if self._with_text:
            from simulator.stream.texts import TextGenerator

            texts = scenario.content.texts
            self._texts = TextGenerator(
                languages=texts.languages,
                evasion_rate=texts.evasion_rate,
                taxonomy=scenario.taxonomy,
            )

    @property
    def hourly_rate(self) -> np.ndarray:
        """Expected posts in each simulated hour (before any suspension)."""
        return self._hourly_rate

    @property
    def days(self) -> int:
        return self._scenario.days

    @property
    def text_generator(self) -> TextGenerator | None:
        """What writes the posts' texts (None in scale mode)."""
        return self._texts

    def generate_day(self, day: int, first_id: int) -> Posts:
        """The posts created on simulated day ``day``; ids start at ``first_id``.

        Posts come grouped by hour and, within an hour, by class; their
        creation times are uniform within the hour (the order of ids carries
        no meaning).
        """
        return next(self.day_slices(day, first_id))

    def day_slices(self, day: int, first_id: int, max_posts: int | None = None) -> Iterator[Posts]:
        """The posts of :meth:`generate_day` in slices of at most ``max_posts``, in order
        (a heavy day's memory is then one slice's).

        The day's generator draws in a fixed order: the counts, then a creation
        time for every post, then a reach for every post, then a score uniform
        for every post. A slice reads each block at its own place
        (:func:`block_readers`), so any slice size gives the same posts. Text mode draws a
        day's texts together: its days come whole.
        """
        rng, per_class = self.day_counts(day)
        counts = per_class.sum(axis=1)
        n = int(counts.sum())
        size = n if max_posts is None or self._texts is not None else max_posts
        size = max(size, 1)
        created_rng = reach_rng = score_rng = rng
        if size < n:
            created_rng, reach_rng, score_rng = block_readers(rng, n, size)
        hours = np.arange(24 * day, 24 * day + 24, dtype=np.float64)
        classes = np.tile(np.arange(per_class.shape[1], dtype=np.int8), 24)
        hour_ends, group_ends = np.cumsum(counts), np.cumsum(per_class.ravel())
        for start in range(0, max(n, 1), size):
            stop = min(n, start + size)
            cls = np.repeat(classes, _within(group_ends, start, stop))
            created = np.repeat(hours, _within(hour_ends, start, stop))
            created += created_rng.random(stop - start)
            reach = self.reach_of(cls, reach_rng.standard_normal(stop - start))
            decay = np.full(stop - start, self.decay)
            score_u = score_rng.random(stop - start)
            text = self.texts_for(cls, day)
            ids = np.arange(first_id + start, first_id + stop, dtype=np.int64)
            yield Posts(ids, created, cls, reach, decay, score_u, text)

    def day_counts(self, day: int) -> tuple[np.random.Generator, np.ndarray]:
        """The day's generator and its post counts per (hour, class), shape ``(24, classes)``.

        :meth:`day_slices` goes on drawing the posts' attributes from the same
        generator; :mod:`simulator.stream.thinning` draws the same counts.
        """
        rng = self._seeds.rng("stream", day)
        hours = np.arange(24 * day, 24 * day + 24)
        counts = rng.poisson(self._hourly_rate[hours])
        return rng, rng.multinomial(counts, self._class_probs[hours])

    @property
    def decay(self) -> float:
        """Every post's view decay rate (per hour): ln 2 over the reach half-life."""
        return LN2 / self._scenario.reach.half_life_hours

    def reach_of(self, cls: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Lifetime reach of posts of classes ``cls`` at standard normal draws ``z``."""
        reach_cfg = self._scenario.reach
        median = np.asarray(per_class(reach_cfg.median_views, self._scenario.taxonomy))[cls]
        return np.asarray(median * np.exp(reach_cfg.sigma * z), dtype=np.float64)

    def texts_for(self, cls: np.ndarray, day: int) -> list[str] | None:
        """Texts for posts of classes ``cls`` made on ``day`` (None in scale mode)."""
        if self._texts is None:
            return None
        return self._texts.generate(cls, self._seeds.rng("texts", day))


def block_readers(
    rng: np.random.Generator, n: int, size: int
) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Generators reading ``rng``'s next three blocks of ``n`` draws each - ``n``
    uniforms, ``n`` standard normals, ``n`` uniforms, one post attribute after
    another for ``n`` posts - each at its own place, so that the posts can be read
    a slice at a time and get the draws the whole blocks would.

    Uniform doubles take one step of the generator each, so the normals start
    ``n`` steps on (a jump); normals take a varying number of steps, so the last
    block's start is found by drawing the normals once ahead, ``size`` at a time.
    """
    normals = copy.deepcopy(rng)
    bits = normals.bit_generator
    assert isinstance(bits, np.random.PCG64)  # what SeedTree makes; it can jump
    bits.advance(n)
    last = copy.deepcopy(normals)
    for start in range(0, n, size):
        last.standard_normal(min(size, n - start))
    return rng, normals, last


def _within(ends: np.ndarray, start: int, stop: int) -> np.ndarray:
    """How many of each consecutive group (ending at the cumulative ``ends``) fall in
    the positions ``[start, stop)``."""
    starts = np.concatenate([[0], ends[:-1]])
    return np.clip(ends, start, stop) - np.clip(starts, start, stop)


def _population(scenario: Scenario) -> Population:
    if scenario.population is None:  # the Scenario validator requires it for this stream
        raise ValueError("a synthetic stream needs the scenario's population")
    return scenario.population


def _interp_users(scenario: Scenario, t_hours: np.ndarray) -> np.ndarray:
    points = _population(scenario).daily_active_users
    xs = np.array([scenario.hour_of(p.date) for p in points])
    ys = np.array([p.users for p in points])
    return np.interp(t_hours, xs, ys)


def _surge_overlap(scenario: Scenario, start_hours: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """For each surge, the fraction of every hour it covers."""
    out = []
    for surge in scenario.surges:
        s = scenario.hour_of(surge.start)
        e = s + surge.hours
        cover = np.clip(np.minimum(start_hours + 1, e) - np.maximum(start_hours, s), 0.0, 1.0)
        out.append((s, cover))
    return out


def hourly_rhythm(scenario: Scenario) -> np.ndarray:
    """The population's daily rhythm at each hour of the scenario (mean 1 over a day)."""
    hours = np.arange(int(scenario.hours), dtype=np.float64)
    profile = np.asarray(_population(scenario).hourly_profile, dtype=np.float64)
    profile = profile / profile.mean()
    start_hour = scenario.start.hour + scenario.start.minute / 60.0
    return profile[((hours + start_hour) % 24).astype(int)]


def surge_volume(scenario: Scenario) -> np.ndarray:
    """The surges' multiplier of the post volume at each hour of the scenario (1: none)."""
    hours = np.arange(int(scenario.hours), dtype=np.float64)
    multiplier = np.ones_like(hours)
    for surge, (_, cover) in zip(scenario.surges, _surge_overlap(scenario, hours), strict=True):
        multiplier *= 1.0 + (surge.volume_multiplier - 1.0) * cover
    return multiplier


def hourly_rates(scenario: Scenario) -> np.ndarray:
    """Expected number of posts in each hour of the scenario."""
    hours = np.arange(int(scenario.hours), dtype=np.float64)
    users = _interp_users(scenario, hours + 0.5)
    rate = users * _population(scenario).posts_per_user_per_day / 24.0 * hourly_rhythm(scenario)
    return rate * surge_volume(scenario)


def hourly_class_probs(scenario: Scenario) -> np.ndarray:
    """Class probabilities for each hour (shape hours x classes); surges raise
    the violating classes' share."""
    hours = np.arange(int(scenario.hours), dtype=np.float64)
    base = np.asarray(scenario.class_shares())
    vmult = np.ones(len(hours))
    for surge, (_, cover) in zip(scenario.surges, _surge_overlap(scenario, hours), strict=True):
        vmult *= 1.0 + (surge.violating_multiplier - 1.0) * cover
    shares = np.tile(base, (len(hours), 1))
    shares[:, scenario.taxonomy.violating] *= vmult[:, None]
    shares /= shares.sum(axis=1, keepdims=True)
    return shares


def view_driven_times(
    posts: Posts, per_view: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Absolute time of the n-th event of a Poisson process driven by views.

    Events (user reports, outside reports to a host) arrive at ``per_view``
    times the view rate, so their cumulative intensity at age ``a`` is
    ``per_view * reach * (1 - exp(-decay * a))``. The n-th event's cumulative
    intensity is Gamma(n, 1); inverting the closed form gives its age, or
    ``inf`` when the post's whole life does not produce n events.
    """
    size = len(posts)
    g = rng.standard_gamma(float(n), size=size) if n > 1 else rng.standard_exponential(size)
    return intensity_times(posts.created_at, per_view * posts.reach, posts.decay, g)


def intensity_times(
    created: np.ndarray, total: np.ndarray, decay: np.ndarray, g: np.ndarray
) -> np.ndarray:
    """Absolute time at which a view-driven process of lifetime intensity ``total``
    reaches cumulative intensity ``g`` (``inf`` where the post's life falls short)."""
    hit = g < total  # the post's whole life produces at least n events
    times = np.full(len(g), np.inf)
    age = -np.log1p(-g[hit] / total[hit]) / decay[hit]
    times[hit] = created[hit] + age
    return times
