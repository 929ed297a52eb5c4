"""Thinning (``content.thinning: auto``) under a prefilter with a card per policy area:
legitimate posts no card scores high, no one reports and no sampler picks are counted,
not drawn, and the results keep the full draw's distribution (as in
``tests/test_thinning.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import tweak
from scipy import stats
from test_areas import per_area, small

from simulator.config import Scenario
from simulator.engine import Simulation
from simulator.metrics import summarize
from simulator.stream.thinning import draw_some_above


@pytest.mark.parametrize("q", [[0.3, 0.05, 0.6], [0.001, 0.02], [0.5]])
def test_uniforms_conditioned_on_some_card_above_its_cut_match_rejection(q: list[float]) -> None:
    cut = 1.0 - np.array(q)
    rng = np.random.default_rng(7)
    brute = rng.random((400_000, len(q)))
    brute = brute[(brute >= cut).any(axis=1)][:20_000]
    drawn = draw_some_above(np.random.default_rng(8), 20_000, np.array(q))
    assert ((drawn >= cut).any(axis=1)).all()
    for k in range(len(q)):
        assert stats.ks_2samp(brute[:, k], drawn[:, k]).pvalue > 1e-3

    # and jointly: which cards are above, as a pattern of bits
    def pattern(u: np.ndarray) -> np.ndarray:
        return ((u >= cut) * (1 << np.arange(len(q)))).sum(axis=1)

    table = pd.crosstab(
        np.r_[np.zeros(len(brute)), np.ones(len(drawn))], np.r_[pattern(brute), pattern(drawn)]
    )
    assert stats.chi2_contingency(table).pvalue > 1e-3


def _world(thinning: str) -> Scenario:
    return tweak(small(days=2), content__thinning=thinning)


def _policy():  # type: ignore[no-untyped-def]
    # a card per area (spam's wide review band flags many legitimate posts, its
    # removal line removes some), a sweep, and one reviewer who falls behind
    return per_area(
        **{
            "prefilter.areas.spam.auto_remove_above": {"precision": 0.7},
            "staff.reviewers": 1,
            "notices.sweep": {"enabled": True, "review_above": 0.95, "team": "staff"},
        }
    )


def _run(thinning: str, seed: int) -> tuple[dict[str, float], pd.DataFrame]:
    rows: list[pd.DataFrame] = []
    log = Simulation(_world(thinning), _policy(), seed=seed).run(rows.append)
    s = summarize(log)
    staff = s["review"]["staff"]
    figures = {
        "wrongly removed": s["legitimate"]["wrongly_removed"],
        "by prefilter": s["legitimate"]["wrongly_removed_by"]["prefilter"],
        "staff cases": staff["cases"],
        "staff removes": staff["decided_remove"],
        "backlog max": staff["backlog_max"],
        "violating removed": s["violating"]["removed"],
        "views before removal": s["violating"]["views_before_removal"]["total"],
    }
    table = pd.concat(rows, ignore_index=True)
    return figures, table[~table["violating"]]


SEEDS = 12


@pytest.fixture(scope="module")
def both() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    out = {}
    for thinning, first in (("off", 0), ("auto", 1000)):
        runs = [_run(thinning, first + i) for i in range(SEEDS)]
        out[thinning] = (
            pd.DataFrame([f for f, _ in runs]),
            pd.concat([t for _, t in runs], ignore_index=True),
        )
    return out


def test_a_prefilter_per_area_is_thinned() -> None:
    log = Simulation(_world("auto"), _policy(), seed=1).run()
    assert log.meta["thinning"].startswith("on:")
    off = Simulation(_world("off"), _policy(), seed=1).run()
    np.testing.assert_array_equal(log.created_by_class, off.created_by_class)
    np.testing.assert_array_equal(log.violating_by_hour, off.violating_by_hour)


def test_run_figures_have_the_full_draws_distribution(both) -> None:  # type: ignore[no-untyped-def]
    full, thin = both["off"][0], both["auto"][0]
    assert full["backlog max"].median() > 20  # the staff are busy
    assert full["by prefilter"].median() > 5  # the cards remove legitimate posts
    level = 0.01 / len(full.columns)
    for name in full.columns:
        p = stats.mannwhitneyu(full[name], thin[name]).pvalue
        assert p > level, f"{name}: {full[name].tolist()} vs {thin[name].tolist()}"


def test_touched_legitimate_posts_have_the_full_draws_distribution(both) -> None:  # type: ignore[no-untyped-def]
    full, thin = both["off"][1], both["auto"][1]
    assert len(thin) == pytest.approx(len(full), rel=0.1)
    flagged = {k: t[t["flagged_at"].notna()] for k, t in (("f", full), ("t", thin))}
    unreported = {k: t[t["reported_at"].isna()] for k, t in (("f", full), ("t", thin))}
    checks = {
        "score of flagged": (flagged["f"]["score"], flagged["t"]["score"]),
        "score of the unreported": (unreported["f"]["score"], unreported["t"]["score"]),
        "score": (full["score"], thin["score"]),
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
