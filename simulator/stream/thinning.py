"""Thinning: legitimate posts that no stage can touch are counted, not drawn.

On a large platform almost every post is legitimate, never reported and never
scored above any threshold. Such a post changes nothing but counts: the posts
made per hour and class (which the run log, the enforcers' audits and the
report read). Drawing it one by one is most of a scale-mode run's cost, so
with ``content.thinning: auto`` the synthetic stream draws, for each
(hour, class) of a day:

1. the number of posts, exactly as the full draw does (same generator, same
   counts, :meth:`~simulator.stream.synthetic.SyntheticStream.day_counts`);
2. every violating post in full (they are few, and every metric of violating
   posts stays exact);
3. for a legitimate class, how many posts are *touchable*, by binomial
   thinning with the class's touch probability, and only those posts, drawn
   from their distribution conditional on being touchable;
4. the rest as a count per (hour, class).

What can touch a legitimate post (every other stage acts on posts a case or
a removal brought in, or on violating posts only: outside reports, press and
audits find violating posts, and an audit reads only counts of the rest):

* user reports: a post is reported (its ``reports_to_queue``-th report
  comes, whenever that is) when a Gamma(n, 1) draw ``g`` falls below its
  lifetime report intensity ``x = k * reach`` (``k``: reports per view after
  sympathy). With ``reach = median * exp(sigma * z)`` and ``z`` standard
  normal, P(reported) is the integral of ``phi(z) P(n, x(z))`` (``P``: the
  regularised lower incomplete gamma), computed by the trapezoid rule on a
  fine grid (spectrally accurate for this smooth integrand);
* the classifier, when its scores are drawn (scale mode or a card): a post is
  scored at or above the lowest cut in use (the prefilter's review and removal
  thresholds, a notice sweep's) with the score model's exact share
  (:meth:`~simulator.classifier.ScoreModel.share_at_or_above`), independently
  of reach and reports, since scores are a quantile draw at their own uniform;
  with a card per policy area (``prefilter.areas``), each card scores at its
  own keyed uniform, independently of the others, so a post is scored high
  when some card's score reaches that card's lowest cut: ``1 - prod(1 - q_k)``.

Touchable posts are split in two exclusive groups, each drawn exactly:

* *reported* (probability ``pB``): ``z`` from its conditional density
  ``phi(z) P(n, x(z)) / pB`` by rejection from the envelope
  ``phi(z) min(1, x^n / n!)`` (``P(n, x) <= x^n / n!``), a mixture of two
  truncated normals drawn by inversion, accepted with ``P(n, x) / envelope``
  (over a half of proposals are kept); then ``g`` from Gamma(n, 1) truncated
  to ``(0, x)`` by inversion, which gives the report time in closed form; the
  score's uniform is unconditioned;
* *scored, not reported* (``(1 - pB) q``): the score's uniform in its top
  ``q`` (where the quantile function reaches the cut); ``z`` from
  ``phi(z) (1 - P(n, x(z)))`` by rejection from the normal; no report ever.
  With a card per area, the cards' uniforms are drawn conditioned on some
  card's being in its top ``q_k`` (:func:`draw_some_above`) and carried with
  the posts (``Posts.area_u``) in place of the cards' keyed draws.

Each group's count is a binomial of the posts left (a multinomial split), so
the posts drawn, their attributes and report times, and the counts left are
distributed exactly as in the full draw; the only approximations are floating
point and the quadrature of ``pB`` (relative error far below 1e-9). Creation
times are uniform in the hour either way, and texts depend on the class only.
The tests run many seeds of a small world both ways and compare the results
with two-sample tests (``tests/test_thinning.py``).

Ids: the posts of a day keep the ids the full draw gives its (hour, class)
groups; within a group the drawn posts take the first ids, and the counted
ones the rest, so ids stay unique and ascending and the next day starts where
the full draw's would.

Random numbers: counts and violating posts come from the day's stream
generator (so they are the same under every policy, thinned or not, with the
same counts as the full draw); reported posts from ``("thin", day,
"reported")``, which depends only on the audience and the report rule (so
policies sharing them share these posts too); scored ones from ``("thin", day,
"scored")``. Thinning therefore changes a run's draws (not their distribution)
against the full draw, which is why it is a switch, ``off`` by default. A day
that draws more than :data:`WHOLE_DAY_DRAWN` posts is drawn a few hours at a
time, its legitimate posts from generators per hour (:class:`ThinPlan`).

When it does not apply, the full draw runs and the run log says why
(``meta["thinning"]``): a replayed post log, a per-post table of ``all``
posts, or a classifier that scores texts (text mode with a trained model).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from simulator.config.common import per_class
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.seeding import SeedTree
from simulator.stream.conditional import (
    MAX_BATCH,
    draw_reported,
    draw_some_above,
    draw_unreported,
    reported_share,
)
from simulator.stream.synthetic import Posts, SyntheticStream, block_readers, intensity_times

if TYPE_CHECKING:
    from simulator.stages.area_prefilter import AreaPrefilter
    from simulator.stages.prefilter import PrefilterStage
    from simulator.stages.reports import ReportStage

WHOLE_DAY_DRAWN = 2_000_000
"""Most posts a thinned day draws whole; a bigger day is drawn by the hour (:class:`ThinPlan`)."""


# The thinned stream ------------------------------------------------------------------


@dataclass(frozen=True)
class TouchModel:
    """What can touch a post of each class, and how likely (legitimate classes)."""

    reports_needed: int
    """User reports that open a case (0: reports are off)."""
    km: np.ndarray
    """Per class: lifetime report intensity at median reach."""
    sigma: float
    reported: np.ndarray
    """Per class: P(reported ``reports_needed`` times)."""
    scored: np.ndarray
    """Per class: P(score at or above the lowest cut in use) (0 without drawn scores)."""
    violating: np.ndarray
    """Per class: whether it violates (always drawn one by one)."""
    area_scored: np.ndarray | None = None
    """A prefilter per area: per screened area (rows) and class, P(that area's card
    scores at or above its lowest cut); the cards draw independently, so ``scored``
    is the chance that some card does (None: one score per post)."""

    @classmethod
    def build(
        cls,
        reports_needed: int,
        per_view: np.ndarray,
        median: np.ndarray,
        sigma: float,
        scored: np.ndarray,
        violating: np.ndarray,
        area_scored: np.ndarray | None = None,
    ) -> TouchModel:
        km = np.asarray(per_view, dtype=np.float64) * np.asarray(median, dtype=np.float64)
        reported = np.array([reported_share(reports_needed, float(k), sigma) for k in km])
        if area_scored is not None:
            scored = 1.0 - np.prod(1.0 - area_scored, axis=0)
        return cls(
            reports_needed,
            km,
            sigma,
            reported,
            np.asarray(scored, dtype=np.float64),
            violating,
            area_scored,
        )

    def touched_share(self) -> np.ndarray:
        """Per class: the share of posts drawn one by one (1 for violating classes)."""
        share = 1.0 - (1.0 - self.reported) * (1.0 - self.scored)
        return np.where(self.violating, 1.0, share)


@dataclass(frozen=True)
class ThinDay:
    """One day of a thinned stream: the posts drawn, and the counts of the rest."""

    day: int
    posts: Posts
    """Every violating post and the touchable legitimate ones, in id order."""
    reported_at: np.ndarray
    """Report times drawn with the legitimate posts; NaN for the violating ones,
    whose reports the report stage draws as for any post."""
    untouched: np.ndarray
    """Posts not drawn, per (hour of the day, class): shape ``(24, classes)``."""
    made: int
    """Every post made on the day, drawn or counted (the ids it takes)."""

    def report_times(self, drawn: np.ndarray) -> np.ndarray:
        """The report stage's times ``drawn`` for these posts, with the ones drawn here."""
        return np.where(np.isnan(self.reported_at), drawn, self.reported_at)

    def parts(self, size: int | None) -> list[ThinDay]:
        """The day's drawn posts in consecutive parts of at most ``size`` (views of
        these arrays; every part keeps the day's counts): a billion posts a day
        draw some ten million, staged a slice at a time."""
        n = len(self.posts)
        if size is None or n <= size:
            return [self]
        return [self._part(slice(a, min(a + size, n))) for a in range(0, n, size)]

    def _part(self, rows: slice) -> ThinDay:
        p = self.posts
        posts = Posts(
            p.post_id[rows],
            p.created_at[rows],
            p.cls[rows],
            p.reach[rows],
            p.decay[rows],
            p.score_u[rows],
            p.text[rows] if p.text is not None else None,
            p.labelled[rows] if p.labelled is not None else None,
        )
        return ThinDay(self.day, posts, self.reported_at[rows], self.untouched, self.made)


class Thinner:
    """Draws a synthetic stream's days thinned (entry point: :meth:`plan_day`)."""

    def __init__(self, stream: SyntheticStream, seeds: SeedTree, touch: TouchModel) -> None:
        self._stream = stream
        self._seeds = seeds
        self._touch = touch

    @property
    def touch(self) -> TouchModel:
        return self._touch

    @property
    def stream(self) -> SyntheticStream:
        return self._stream

    @property
    def seeds(self) -> SeedTree:
        return self._seeds

    def plan_day(self, day: int, first_id: int) -> ThinPlan:
        """The day's counts (its posts drawn later, a slice at a time: :meth:`ThinPlan.slices`)."""
        t = self._touch
        rng, counts = self._stream.day_counts(day)
        legit = ~t.violating
        rep_rng = self._seeds.rng("thin", day, "reported")
        sco_rng = self._seeds.rng("thin", day, "scored")
        reported = np.zeros_like(counts)
        scored = np.zeros_like(counts)
        reported[:, legit] = rep_rng.binomial(counts[:, legit], t.reported[legit])
        scored[:, legit] = sco_rng.binomial(counts[:, legit] - reported[:, legit], t.scored[legit])
        return ThinPlan(self, day, first_id, counts, reported, scored, (rng, rep_rng, sco_rng))

    def generate_day(self, day: int, first_id: int) -> ThinDay:
        """The day's violating and touchable posts in one piece, and the counts of the rest."""
        return next(self.plan_day(day, first_id).slices(None))

    def made_before(self, untouched: np.ndarray, day: int, end: float) -> np.ndarray:
        """Of a day's counted posts (per hour and class), those made before ``end``:
        all of an hour that ends by then, a binomial share of the hour ``end``
        falls in (creation times are uniform in their hour), none after."""
        start = 24.0 * day + np.arange(24)
        share = np.clip(end - start, 0.0, 1.0)
        out = np.where(share[:, None] >= 1.0, untouched, 0)
        part = (share > 0) & (share < 1)
        if part.any():
            rng = self._seeds.rng("thin", day, "end")
            out[part] = rng.binomial(untouched[part], share[part][:, None])
        return np.asarray(out, dtype=np.int64)


class ThinPlan:
    """A thinned day's counts, its posts not drawn yet (entry point: :meth:`slices`).

    Up to :data:`WHOLE_DAY_DRAWN` drawn posts, the day is drawn whole, as
    described in the module docstring. A bigger day (some ten million drawn
    posts at a billion a day, over 100 bytes each while drawn) is drawn a
    group of hours at a time, with the same counts and ids: its violating posts
    read the day's stream generator at their own place (:func:`block_readers`,
    as a full draw's slices do), so they are the whole draw's posts, while the
    touchable legitimate posts of each hour come from generators of their own,
    ``("thin", day, "reported", hour)`` and ``("thin", day, "scored", hour)``,
    drawn as the whole day draws them. That changes those posts' draws, not
    their distribution (``tests/test_thinning.py``), and makes them the same
    for any slice size; days up to the bound keep the draws they always had.
    """

    def __init__(
        self,
        thinner: Thinner,
        day: int,
        first_id: int,
        counts: np.ndarray,
        reported: np.ndarray,
        scored: np.ndarray,
        generators: tuple[np.random.Generator, np.random.Generator, np.random.Generator],
    ) -> None:
        t = thinner.touch
        self._thinner = thinner
        self.day = day
        self._first_id = first_id
        self._counts = counts
        self._reported = reported
        self._drawn = np.where(t.violating, counts, reported + scored)
        self.untouched: np.ndarray = counts - self._drawn
        """Posts not drawn, per (hour of the day, class): shape ``(24, classes)``."""
        self.made = int(counts.sum())
        """Every post made on the day, drawn or counted (the ids it takes)."""
        self.by_hour = (
            int(self._drawn.sum()) > WHOLE_DAY_DRAWN
            and thinner.stream.text_generator is None  # a day's texts come together
        )
        rng, rep_rng, sco_rng = generators
        n_violating = int(counts[:, t.violating].sum())
        self._violating_draws = (
            block_readers(rng, n_violating, MAX_BATCH) if self.by_hour else (rng, rng, rng)
        )
        self._legit = (rep_rng, sco_rng)

    def _groups(self, size: int | None) -> list[tuple[int, int]]:
        """The hours ``[a, b)`` drawn at once: all 24 for a day drawn whole, else as many
        as fit in ``size`` drawn posts (at least one)."""
        if not self.by_hour or size is None:
            return [(0, 24)]
        groups, start, total = [], 0, 0
        for hour, k in enumerate(self._drawn.sum(axis=1).tolist()):
            if hour > start and total + k > size:
                groups.append((start, hour))
                start, total = hour, 0
            total += k
        return [*groups, (start, 24)]

    def pieces(self, size: int | None) -> int:
        """How many slices :meth:`slices` gives."""
        per_hour = self._drawn.sum(axis=1)
        sums = [int(per_hour[a:b].sum()) for a, b in self._groups(size)]
        return sum(1 if size is None else max(1, -(-k // size)) for k in sums)

    def slices(self, size: int | None) -> Iterator[ThinDay]:
        """The day's drawn posts in order, in slices of at most ``size`` (once: the
        draws go on from one slice to the next)."""
        for a, b in self._groups(size):
            if self.by_hour:
                seeds = self._thinner.seeds
                legit = [
                    (h, h + 1, seeds.rng("thin", self.day, "reported", h),
                     seeds.rng("thin", self.day, "scored", h))
                    for h in range(a, b)
                ]  # fmt: skip
            else:
                legit = [(a, b, *self._legit)]
            drawn = self._draw(a, b, legit)
            yield from drawn.parts(size)
            del drawn  # not beside the next group's draw

    def _draw(self, h0: int, h1: int, legit: list[tuple[int, int, Any, Any]]) -> ThinDay:
        """The drawn posts of hours ``[h0, h1)``; ``legit`` gives the generators of the
        legitimate posts of each run of hours ``[a, b)`` (reported, scored)."""
        t = self._thinner.touch
        stream = self._thinner.stream
        n_classes = t.violating.size
        drawn = self._drawn[h0:h1]
        # Rows in (hour, class) group order; a group's drawn posts take its first ids.
        sizes = drawn.ravel()
        total = int(sizes.sum())
        day_counts = self._counts.ravel()
        group_start = (np.cumsum(day_counts) - day_counts)[h0 * n_classes : h1 * n_classes]
        starts = np.repeat(group_start, sizes)
        pos = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        ids = self._first_id + starts + pos
        cls = np.repeat(np.tile(np.arange(n_classes, dtype=np.int8), h1 - h0), sizes)
        first_hour = 24 * self.day + h0
        hour = np.repeat(
            np.arange(first_hour, first_hour + h1 - h0, dtype=np.float64), drawn.sum(axis=1)
        )
        kind = np.where(
            t.violating[cls],
            0,
            np.where(pos < np.repeat(self._reported[h0:h1].ravel(), sizes), 1, 2),
        ).astype(np.int8)
        del starts, pos  # ten million posts a day at 1e9: each column is 90 MB

        created = np.empty(total)
        z = np.empty(total)
        score_u = np.empty(total)
        report_at = np.full(total, np.nan)
        g = np.empty(total)
        # violating: unconditioned, as the full draw, from the day's stream generator
        rows = np.flatnonzero(kind == 0)
        created_rng, normals, last = self._violating_draws
        created[rows] = hour[rows] + created_rng.random(len(rows))
        z[rows] = normals.standard_normal(len(rows))
        score_u[rows] = last.random(len(rows))
        area_u = None
        if t.area_scored is not None:
            area_u = np.full((total, len(t.area_scored)), np.nan)
        ends = np.r_[0, np.cumsum(drawn.sum(axis=1))]
        for a, b, rep_rng, sco_rng in legit:
            lo, hi = int(ends[a - h0]), int(ends[b - h0])
            for code, gen in ((1, rep_rng), (2, sco_rng)):
                rows = lo + np.flatnonzero(kind[lo:hi] == code)
                created[rows] = hour[rows] + gen.random(len(rows))
                for c in np.flatnonzero(~t.violating):
                    mine = rows[cls[rows] == c]
                    km = float(t.km[c])
                    if code == 1:
                        z[mine], g[mine] = draw_reported(
                            gen, len(mine), t.reports_needed, km, t.sigma
                        )
                        score_u[mine] = gen.random(len(mine))
                    else:
                        z[mine] = draw_unreported(
                            gen, len(mine), t.reports_needed, km, t.sigma, float(t.reported[c])
                        )
                        score_u[mine] = 1.0 - t.scored[c] * gen.random(len(mine))
                        report_at[mine] = np.inf
            if area_u is not None and t.area_scored is not None:
                # some card scores a post of the scored group high
                for c in np.flatnonzero(~t.violating):
                    mine = lo + np.flatnonzero((kind[lo:hi] == 2) & (cls[lo:hi] == c))
                    area_u[mine] = draw_some_above(sco_rng, len(mine), t.area_scored[:, c])
        del hour
        reach = stream.reach_of(cls, z)
        decay = np.full(total, stream.decay)
        rows = np.flatnonzero(kind == 1)
        if len(rows):
            x = t.km[cls[rows]] * np.exp(t.sigma * z[rows])
            report_at[rows] = intensity_times(created[rows], x, decay[rows], g[rows])
        del z, g
        texts = stream.texts_for(cls, self.day)
        posts = Posts(ids, created, cls, reach, decay, score_u, texts, area_u=area_u)
        return ThinDay(self.day, posts, report_at, self.untouched, self.made)


def plan_thinning(
    scenario: Scenario,
    policy: PlatformPolicy,
    stream: object,
    reports: ReportStage,
    scorer: PrefilterStage | AreaPrefilter | None,
    table: str,
    seeds: SeedTree,
) -> tuple[Thinner | None, str | None]:
    """The thinner for this run, or None; and the note for the run log (None when
    thinning was not asked for)."""
    if scenario.content.thinning == "off":
        return None, None
    if not isinstance(stream, SyntheticStream):
        return None, "off: a replayed post log is read post by post"
    if table == "all":
        return None, "off: every post's row was asked for (posts table 'all')"
    if scenario.adversaries is not None and scenario.adversaries.present:
        return None, "off: adversaries (brigades, campaigns) act on posts no stage would touch"
    n_classes = scenario.taxonomy.n_classes
    scored = np.zeros(n_classes)
    area_scored = None
    if scorer is not None and scorer.per_area:
        if not scorer.draws_scores:
            return None, "off: the areas' text models score every post's text (text mode)"
        sweep = policy.notices.sweep
        cut = sweep.review_above if sweep.enabled else None
        area_scored = cast("AreaPrefilter", scorer).touch_shares([cut])
    elif scorer is not None:
        if not scorer.draws_scores:
            return None, "off: the classifier scores every post's text (text mode)"
        cuts = [t.score for t in scorer.thresholds] if policy.prefilter.enabled else []
        if policy.notices.sweep.enabled:
            cuts.append(policy.notices.sweep.review_above)
        if cuts:
            model = cast("PrefilterStage", scorer).score_model
            scored = np.array([model.share_at_or_above(c, min(cuts))[0] for c in range(n_classes)])
    reach = scenario.reach
    touch = TouchModel.build(
        reports.reports_needed,
        reports.per_view,
        np.asarray(per_class(reach.median_views, scenario.taxonomy)),
        reach.sigma,
        scored,
        scenario.taxonomy.violating,
        area_scored,
    )
    shares = np.asarray(scenario.class_shares())
    drawn = float(shares @ touch.touched_share() / shares.sum())
    return Thinner(stream, seeds, touch), f"on: about {drawn:.3%} of posts drawn one by one"
