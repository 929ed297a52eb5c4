"""Thinning (``content.thinning: auto``) gives the full draw's results in distribution.

The conditional draws are checked against brute force (draw every post, keep the
touched ones); the engine's results are checked on a small world, many seeds each
way, with two-sample tests at stated levels. Seeds are fixed, so every test
either passes or fails deterministically.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import bundled, tweak
from scipy import stats

import simulator.stream.thinning as thinning_module
from simulator.config import Scenario
from simulator.engine import Simulation
from simulator.metrics import summarize
from simulator.seeding import SeedTree
from simulator.stream.synthetic import Posts, SyntheticStream
from simulator.stream.thinning import (
    ThinDay,
    draw_reported,
    draw_unreported,
    reported_share,
)
from simulator.taxonomy import VIOLATING

CASES = [(1, 0.002, 1.5), (3, 0.05, 1.6), (1, 0.8, 1.0), (2, 0.01, 2.0), (1, 0.01, 0.0)]
"""(reports needed, report intensity at median reach, reach sigma)."""


def _brute(n: int, km: float, sigma: float, size: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(size)
    g = rng.standard_gamma(float(n), size)
    return z, g, g < km * np.exp(sigma * z)


@pytest.mark.parametrize(("n", "km", "sigma"), CASES)
def test_reported_share_is_the_share_of_posts_reported(n: int, km: float, sigma: float) -> None:
    size = 2_000_000
    _, _, hit = _brute(n, km, sigma, size, seed=11)
    p = reported_share(n, km, sigma)
    se = np.sqrt(p * (1 - p) / size)
    assert abs(hit.mean() - p) < 4 * se


def test_reported_share_in_the_far_tail_matches_its_expansion() -> None:
    # P(n, x) ~ x^n / n! for small x, so the share tends to km^n e^{(n sigma)^2 / 2} / n!
    n, km, sigma = 2, 1e-7, 1.0
    assert reported_share(n, km, sigma) == pytest.approx(km**n * np.exp(2.0) / 2, rel=1e-4)


@pytest.mark.parametrize(("n", "km", "sigma"), CASES)
def test_conditional_draws_match_the_touched_posts_of_a_full_draw(
    n: int, km: float, sigma: float
) -> None:
    z, g, hit = _brute(n, km, sigma, 2_000_000, seed=12)
    rng = np.random.default_rng(13)
    zr, gr = draw_reported(rng, 5000, n, km, sigma)
    zu = draw_unreported(rng, 5000, n, km, sigma, reported_share(n, km, sigma))
    assert np.all(gr < km * np.exp(sigma * zr))  # every one of them is reported
    # level 0.001 per comparison; the samples are fixed, so this never flickers
    assert stats.ks_2samp(zr, z[hit]).pvalue > 1e-3
    assert stats.ks_2samp(gr, g[hit]).pvalue > 1e-3
    assert stats.ks_2samp(zu, z[~hit]).pvalue > 1e-3


# The engine ------------------------------------------------------------------------------


def _world(thinning: str) -> Scenario:
    quick = bundled("scenarios/quick.yaml")
    surge = quick.surges[0].model_dump() | {"start": "2021-03-02T12:00:00", "hours": 24}
    return tweak(
        quick,
        days=3,
        content__texts__mode="sampled",
        content__thinning=thinning,
        surges=[surge],
    )


def _policy():  # type: ignore[no-untyped-def]
    # a card (scores drawn), a review band, a notice sweep and a small, busy jury
    return tweak(
        bundled("policies/jury-plus-card-typical.yaml"),
        prefilter__review_above={"precision": 0.5},
        jury__pool_size=30,
        notices__sweep={"enabled": True, "review_above": 0.3, "team": "jury"},
    )


def _run(thinning: str, seed: int) -> tuple[dict[str, float], pd.DataFrame]:
    rows: list[pd.DataFrame] = []
    log = Simulation(
        _world(thinning), _policy(), [bundled("policies/host-notice-and-strike.yaml")], seed
    ).run(rows.append)
    s = summarize(log)
    jury = s["review"]["jury"]
    lat = s["violating"]["latency_hours_of_removed"]
    figures = {
        "wrongly removed": s["legitimate"]["wrongly_removed"],
        "by prefilter": s["legitimate"]["wrongly_removed_by"]["prefilter"],
        "jury cases": jury["cases"],
        "jury removes": jury["decided_remove"],
        "backlog max": jury["backlog_max"],
        "backlog end": jury["backlog_end"],
        "violating removed": s["violating"]["removed"],
        "latency p50": lat["p50"],
        "latency p90": lat["p90"],
        "views before removal": s["violating"]["views_before_removal"]["total"],
    }
    table = pd.concat(rows, ignore_index=True)
    legit = table[~table["violating"]]
    figures["legitimate reported"] = int(np.isfinite(legit["reported_at"]).sum())
    return figures, legit


SEEDS = 16


@pytest.fixture(scope="module")
def both() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Each way, the figures of SEEDS runs (different seeds each way: independent
    samples) and the pooled rows of the legitimate posts they drew."""
    out = {}
    for thinning, first in (("off", 0), ("auto", 1000)):
        runs = [_run(thinning, first + i) for i in range(SEEDS)]
        out[thinning] = (
            pd.DataFrame([f for f, _ in runs]),
            pd.concat([t for _, t in runs], ignore_index=True),
        )
    return out


def test_run_figures_have_the_full_draws_distribution(both) -> None:  # type: ignore[no-untyped-def]
    full, thin = both["off"][0], both["auto"][0]
    assert full["backlog max"].median() > 20  # the jury is busy: queue figures mean something
    # Mann-Whitney per figure, Bonferroni over the figures at a family level of 1%
    level = 0.01 / len(full.columns)
    for name in full.columns:
        p = stats.mannwhitneyu(full[name], thin[name]).pvalue
        assert p > level, f"{name}: {full[name].tolist()} vs {thin[name].tolist()}"


def test_touched_legitimate_posts_have_the_full_draws_distribution(both) -> None:  # type: ignore[no-untyped-def]
    full, thin = both["off"][1], both["auto"][1]
    assert len(thin) == pytest.approx(len(full), rel=0.1)
    reported_full = full[full["reported_at"].notna()]
    reported_thin = thin[thin["reported_at"].notna()]
    age = {
        k: t["reported_at"] - t["created_at"]
        for k, t in (("f", reported_full), ("t", reported_thin))
    }
    checks = {
        "reach of reported": (reported_full["reach"], reported_thin["reach"]),
        "report age": (age["f"], age["t"]),
        "score of reported": (reported_full["score"], reported_thin["score"]),
        "score of the rest": (
            full.loc[full["reported_at"].isna(), "score"],
            thin.loc[thin["reported_at"].isna(), "score"],
        ),
        "views": (full["views"], thin["views"]),
    }
    level = 0.01 / len(checks)
    for name, (a, b) in checks.items():
        assert stats.ks_2samp(a, b).pvalue > level, name
    by_class = pd.crosstab(
        np.r_[np.zeros(len(full)), np.ones(len(thin))],
        np.r_[full["cls"].astype(str), thin["cls"].astype(str)],
    )
    assert stats.chi2_contingency(by_class).pvalue > 0.01


def test_counts_are_the_full_draws_and_no_post_is_lost() -> None:
    world = _world("auto")
    off = Simulation(_world("off"), _policy(), seed=5).run()
    on = Simulation(world, _policy(), seed=5).run()
    assert on.meta["thinning"].startswith("on:")
    # the same day counts: every post is counted, drawn or not
    np.testing.assert_array_equal(on.created_by_class, off.created_by_class)
    np.testing.assert_array_equal(on.created_by_hour, off.created_by_hour)
    np.testing.assert_array_equal(on.violating_by_hour, off.violating_by_hour)


def test_a_thinned_day_keeps_the_full_draws_ids_and_counts() -> None:
    world = _world("auto")
    seeds = SeedTree(4)
    stream = SyntheticStream(world, seeds)
    sim = Simulation(world, _policy(), seed=4)
    assert sim.thinner is not None
    thin = sim.thinner.generate_day(1, 777)
    full = stream.generate_day(1, 777)
    assert thin.made == len(full)
    ids = thin.posts.post_id
    assert np.all(np.diff(ids) > 0) and ids[0] >= 777 and ids[-1] < 777 + len(full)
    drawn = np.zeros_like(thin.untouched)
    np.add.at(drawn, (thin.posts.created_at.astype(int) - 24, thin.posts.cls), 1)
    full_counts = np.zeros_like(drawn)
    np.add.at(full_counts, (full.created_at.astype(int) - 24, full.cls), 1)
    np.testing.assert_array_equal(drawn + thin.untouched, full_counts)
    assert np.all(thin.untouched[:, VIOLATING] == 0)  # violating posts are all drawn


def test_made_before_cuts_the_hour_the_run_ends_in() -> None:
    sim = Simulation(_world("auto"), _policy(), seed=4)
    assert sim.thinner is not None
    untouched = np.full((24, 5), 10_000)
    out = sim.thinner.made_before(untouched, day=2, end=48 + 5.25)
    assert np.all(out[:5] == 10_000) and np.all(out[6:] == 0)
    assert abs(out[5].mean() - 2500) < 5 * np.sqrt(10_000 * 0.25 * 0.75)


def test_a_classifier_scoring_texts_falls_back_to_the_full_draw_and_says_so() -> None:
    world = tweak(_world("auto"), content__texts__mode="text")
    policy = tweak(bundled("policies/jury-plus-ai.yaml"), prefilter__model__train_per_class=50)
    sim = Simulation(world, policy, seed=0)
    assert sim.thinner is None
    summary = summarize(sim.run())
    assert summary["run"]["thinning"] == "off: the classifier scores every post's text (text mode)"


def test_a_table_of_every_post_falls_back_to_the_full_draw() -> None:
    sim = Simulation(_world("auto"), _policy(), seed=0, table="all")
    assert sim.thinner is None


def test_text_mode_without_a_classifier_is_thinned_with_texts() -> None:
    world = tweak(_world("auto"), content__texts__mode="text")
    sim = Simulation(world, bundled("policies/jury-only.yaml"), seed=0)
    assert sim.thinner is not None
    day = sim.thinner.generate_day(0, 0)
    assert day.posts.text is not None and len(day.posts.text) == len(day.posts)


def test_off_by_default_and_unknown_values_refused() -> None:
    assert bundled("scenarios/quick.yaml").content.thinning == "off"
    with pytest.raises(ValueError, match="thinning"):
        tweak(_world("auto"), content__thinning="on")


def test_a_delisting_thins_counted_posts_as_it_thins_drawn_ones() -> None:
    store = bundled("policies/appstore-24h-ultimatum.yaml")
    sim = Simulation(_world("auto"), _policy(), [store], seed=0)
    sim.enforcers[0].take_effect(10.5)  # delisted from 10:30 on day 0
    counts = np.full((24, 5), 1_000_000)
    kept = sim.delisting.keep_counts(counts, 0)
    # each hour's mean share of posts never made, on a fine grid of creation times
    grid = (np.arange(24 * 4000) + 0.5) / 4000
    lost = sim.delisting._lost(grid).reshape(24, -1).mean(axis=1)
    assert lost[:10].max() == 0 and 0 < lost[10] < lost[11]
    sd = np.sqrt(1e6 * lost * (1 - lost))[:, None]
    assert np.all(np.abs(kept - 1e6 * (1 - lost)[:, None]) <= 5 * sd + 1)
    not_made = sim.delisting.not_made_by_class(24.0)
    np.testing.assert_array_equal(not_made, (counts - kept).sum(axis=0))


# A big day drawn by the hour ---------------------------------------------------------------


def _many(seed: int, by_hour: bool, monkeypatch: pytest.MonkeyPatch) -> list[ThinDay]:
    """Two days of a world of some 400,000 posts a day (35,000 drawn), drawn whole or by
    the hour (the bound on a day drawn whole lowered to 0)."""
    monkeypatch.setattr(thinning_module, "WHOLE_DAY_DRAWN", 0 if by_hour else 10**9)
    world = tweak(_world("auto"), population__posts_per_user_per_day=15.0)
    thinner = Simulation(world, _policy(), seed=seed).thinner
    assert thinner is not None
    days = []
    for day in range(2):
        plan = thinner.plan_day(day, 0)
        assert plan.by_hour is by_hour
        days.append(next(plan.slices(None)))
    return days


def _columns(days: list[ThinDay]) -> pd.DataFrame:
    p = Posts.concat([d.posts for d in days])
    return pd.DataFrame(
        {
            "cls": p.cls,
            "in_hour": p.created_at % 1.0,
            "reach": p.reach,
            "score_u": p.score_u,
            "report_age": np.concatenate([d.reported_at for d in days]) - p.created_at,
        }
    )


def test_a_day_drawn_by_the_hour_has_the_whole_draws_counts_and_violating_posts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    whole, by_hour = _many(3, False, monkeypatch), _many(3, True, monkeypatch)
    for a, b in zip(whole, by_hour, strict=True):
        assert len(a.posts) > 30_000  # many posts: the tests below have power
        # the same posts per (hour, class) and kind, with the same ids
        np.testing.assert_array_equal(a.posts.post_id, b.posts.post_id)
        np.testing.assert_array_equal(a.posts.cls, b.posts.cls)
        np.testing.assert_array_equal(a.untouched, b.untouched)
        np.testing.assert_array_equal(np.isinf(a.reported_at), np.isinf(b.reported_at))
        # violating posts: the whole draw's, read at their own place
        v = np.isnan(a.reported_at)
        assert v.any() and np.array_equal(v, np.isnan(b.reported_at))
        for name in ("created_at", "reach", "score_u"):
            x, y = getattr(a.posts, name), getattr(b.posts, name)
            np.testing.assert_array_equal(x[v], y[v])
            assert not np.array_equal(x[~v], y[~v])  # the legitimate ones drawn anew


def test_a_day_drawn_by_the_hour_has_the_whole_draws_distribution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Independent seeds each way (the same seed gives the same counts, above): the
    legitimate posts' creation times in their hour, reach, score draw and report age,
    per group (reported, scored), and the share reported, with two-sample tests at a
    family level of 1% (Bonferroni)."""
    whole = _columns([d for s in (0, 1) for d in _many(s, False, monkeypatch)])
    by_hour = _columns([d for s in (10, 11) for d in _many(s, True, monkeypatch)])
    groups = {
        "reported": lambda t: t[np.isfinite(t["report_age"])],
        "scored": lambda t: t[np.isinf(t["report_age"])],
    }
    checks = [(g, name) for g in groups for name in ("in_hour", "reach", "score_u")]
    checks.append(("reported", "report_age"))
    level = 0.01 / (len(checks) + 2)
    for group, name in checks:
        a, b = groups[group](whole)[name], groups[group](by_hour)[name]
        assert min(len(a), len(b)) > 5_000
        assert stats.ks_2samp(a, b).pvalue > level, f"{group}: {name}"
    legit = [t[t["report_age"].notna()] for t in (whole, by_hour)]
    by_class = pd.crosstab(
        np.r_[np.zeros(len(legit[0])), np.ones(len(legit[1]))],
        np.r_[legit[0]["cls"], legit[1]["cls"]],
    )
    assert stats.chi2_contingency(by_class).pvalue > level
    reported = [[int(np.isfinite(t["report_age"]).sum()), len(t)] for t in legit]
    table = [[r, n - r] for r, n in reported]
    assert stats.chi2_contingency(table).pvalue > level


@pytest.mark.parametrize("size", [1, 3_000, 20_000, None])
def test_a_day_drawn_by_the_hour_is_the_same_in_slices_of_any_size(
    size: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    (day, _) = _many(5, True, monkeypatch)
    world = tweak(_world("auto"), population__posts_per_user_per_day=15.0)
    thinner = Simulation(world, _policy(), seed=5).thinner
    assert thinner is not None
    plan = thinner.plan_day(0, 0)
    slices = list(plan.slices(size))
    assert len(slices) == plan.pieces(size)
    if size is not None:
        assert max(len(s.posts) for s in slices) <= size  # a slice's memory is bounded
        assert len(slices) >= len(day.posts) // size
    joined = Posts.concat([s.posts for s in slices])
    for name in ("post_id", "created_at", "cls", "reach", "score_u"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(day.posts, name))
    got = np.concatenate([s.reported_at for s in slices])
    np.testing.assert_array_equal(got, day.reported_at)


@pytest.fixture(scope="module")
def by_hour() -> pd.DataFrame:
    """The figures of SEEDS thinned runs whose days are drawn by the hour (other seeds)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(thinning_module, "WHOLE_DAY_DRAWN", 0)
        return pd.DataFrame([_run("auto", 2000 + i)[0] for i in range(SEEDS)])


def test_runs_drawn_by_the_hour_have_the_whole_days_figures(both, by_hour) -> None:  # type: ignore[no-untyped-def]
    whole = both["auto"][0]
    assert whole["legitimate reported"].min() > 100
    # Mann-Whitney per figure, Bonferroni over the figures at a family level of 1%
    level = 0.01 / len(whole.columns)
    for name in whole.columns:
        p = stats.mannwhitneyu(whole[name], by_hour[name]).pvalue
        assert p > level, f"{name}: {whole[name].tolist()} vs {by_hour[name].tolist()}"
