"""Scale mode is a faithful stand-in for scoring texts.

The same scenario is run in ``text`` mode (every post's text scored by the
classifier) and in ``sampled`` mode (each post's score drawn from the
classifier's measured per-class distribution). Both runs use the same trained
classifier and different seeds, so their streams are independent and the two-sample
tests are valid, and what differs is the mode alone (with a classifier trained per
seed, the spread between two models trained on 500 texts a class adds to the
difference, and the tests below do not allow for it):

* the removal latency of violating posts: Kolmogorov-Smirnov, p > 0.001;
* the share of each class removed by the prefilter, and the share of
  violating posts removed at all: a z-score below 4, whose variance adds the
  binomial error of each run to the error of the score model itself (its
  quantiles come from ``SCORE_SAMPLE_PER_CLASS`` scored texts a class).

A negative control shows the checks have power: moving the removal threshold
in the sampled run from 0.9 to 0.6 must be detected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import tweak
from scipy import stats

from simulator.classifier import TrainedClassifier
from simulator.config import PlatformPolicy, Scenario
from simulator.engine import Simulation
from simulator.runlog import RunLog
from simulator.seeding import SeedTree
from simulator.stages.prefilter import SCORE_SAMPLE_PER_CLASS, classifier_for
from simulator.taxonomy import CLASSES

NEVER = 1e6  # latency of a violating post never removed (any value above the horizon)


def world(quick: Scenario, mode: str) -> Scenario:
    """Three days, 5,000 users, a high violating share: ~7,500 posts, ~750 violating."""
    return tweak(
        quick,
        days=3,
        surges=[],
        population__daily_active_users=[
            {"date": "2021-03-01", "users": 5000},
            {"date": "2021-03-08", "users": 5000},
        ],
        content__class_shares={
            "violent_threat": 0.04,
            "incitement": 0.06,
            "violent_news": 0.1,
            "heated_political": 0.3,
            "benign": 0.5,
        },
        content__texts__mode=mode,
    )


def policy(ai_first: PlatformPolicy, auto: float = 0.9) -> PlatformPolicy:
    """Prefilter in the middle of the score range and a small staff, so every stage acts."""
    return tweak(
        ai_first,
        prefilter__model__train_per_class=500,
        prefilter__auto_remove_above=auto,
        prefilter__review_above=0.5,
        prefilter__timing="post_publication",
        staff__reviewers=2,
        staff__reviews_per_hour=40,
    )


def model(quick: Scenario, pol: PlatformPolicy, seed: int) -> TrainedClassifier:
    """The classifier a run of ``pol`` with ``seed`` trains, for both runs to share."""
    clf = classifier_for(pol.prefilter, world(quick, "text"), SeedTree(seed))
    assert isinstance(clf, TrainedClassifier)
    return clf


def latencies(log: RunLog) -> np.ndarray:
    v = log.violating
    return np.nan_to_num((v["removed_at"] - v["created_at"]).to_numpy(), nan=NEVER)


def prefilter_removals(log: RunLog) -> dict[str, tuple[int, int]]:
    """Per class: (posts removed by the prefilter, posts created)."""
    removed = dict.fromkeys(CLASSES, 0)
    for part in (log.violating, log.wrongly_removed):
        hit = part[part["removed_by"].astype(str) == "prefilter"]
        for cls, n in hit["cls"].astype(str).value_counts().items():
            removed[str(cls)] += int(n)
    return {c: (removed[c], int(log.created_by_class[i])) for i, c in enumerate(CLASSES)}


def z_score(k_a: int, n_a: int, k_b: int, n_b: int, m: int = 0) -> float:
    """Two proportions; ``m`` > 0 adds the error of a score model measured on ``m`` texts."""
    p = (k_a + k_b) / (n_a + n_b)
    extra = 1 / m if m else 0.0
    var = p * (1 - p) * (1 / n_a + 1 / n_b + extra)
    return 0.0 if var == 0 else abs(k_a / n_a - k_b / n_b) / float(np.sqrt(var))


def differences(text: RunLog, sampled: RunLog) -> tuple[float, float]:
    """(KS p-value on violating removal latency, largest z over the removal shares)."""
    ks = stats.ks_2samp(latencies(text), latencies(sampled)).pvalue
    a, b = prefilter_removals(text), prefilter_removals(sampled)
    zs = [z_score(*a[c], *b[c], m=SCORE_SAMPLE_PER_CLASS) for c in CLASSES]
    removed_a = text.violating["removed_at"].notna().to_numpy()
    removed_b = sampled.violating["removed_at"].notna().to_numpy()
    zs.append(z_score(int(removed_a.sum()), removed_a.size, int(removed_b.sum()), removed_b.size))
    return float(ks), max(zs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_text_and_sampled_modes_give_the_same_stage_outcomes(
    quick: Scenario, ai_first: PlatformPolicy, seed: int
) -> None:
    pol = policy(ai_first)
    clf = model(quick, pol, seed)
    text = Simulation(world(quick, "text"), pol, seed=seed, classifier=clf).run()
    sampled = Simulation(world(quick, "sampled"), pol, seed=seed + 1000, classifier=clf).run()
    assert len(text.violating) > 500 and len(sampled.violating) > 500
    ks_p, z = differences(text, sampled)
    assert ks_p > 0.001, f"removal latency differs between modes (KS p={ks_p:.2g})"
    assert z < 4, f"removal shares differ between modes beyond sampling error (z={z:.1f})"


def test_the_mode_checks_detect_a_real_difference(
    quick: Scenario, ai_first: PlatformPolicy
) -> None:
    clf = model(quick, policy(ai_first), 0)
    text = Simulation(world(quick, "text"), policy(ai_first), seed=0, classifier=clf).run()
    # calibrated scores leave few posts between 0.8 and 0.9 (about 2% of the validation
    # sample), too few for a shift to 0.8 to show in 7,500 posts; 0.6 moves about 8%
    shifted = Simulation(
        world(quick, "sampled"), policy(ai_first, auto=0.6), seed=1000, classifier=clf
    ).run()
    ks_p, z = differences(text, shifted)
    assert ks_p < 0.001 or z > 4


def test_a_precision_target_on_the_stream_mix_is_what_the_stream_sees(
    quick_sampled: Scenario, ai_first: PlatformPolicy
) -> None:
    """The same 80% precision target, met on the validation sample's own mix
    (40% violating) or on the stream's expected one (about 2%, its surge
    included): only the second is the precision the prefilter's automatic
    removals have in the run."""
    import simulator

    realised: dict[str, list[float]] = {"validation": [], "stream": []}
    for mix in realised:
        target = {"precision": 0.8, "mix": mix}
        policy = tweak(ai_first, prefilter__auto_remove_above=target, prefilter__review_above=1.0)
        for seed in (0, 1, 2):
            c = simulator.simulate(quick_sampled, policy, [], seed=seed).summary["classifier"]
            # the default (stream) is left out of the summary, as every default is
            assert c["thresholds"][0]["target"] == (
                target if mix == "validation" else {"precision": 0.8}
            )
            realised[mix].append(c["in_run"]["precision"])
    assert min(realised["stream"]) >= 0.7
    assert max(realised["validation"]) < 0.5
    off = {m: abs(float(np.mean(p)) - 0.8) for m, p in realised.items()}
    assert off["stream"] < off["validation"]


def test_a_stream_target_without_a_stream_mix_is_a_clear_error(ai_first: PlatformPolicy) -> None:
    from simulator.errors import ModsimError
    from simulator.stages.prefilter import resolve_thresholds

    cfg = tweak(ai_first, prefilter__auto_remove_above={"precision": 0.8, "mix": "stream"})
    validation = pd.DataFrame(
        {"score": [0.9, 0.2], "violating": [True, False], "label": ["incitement", "benign"]}
    )
    with pytest.raises(ModsimError, match=r"auto_remove_above: .*needs a scenario with content"):
        resolve_thresholds(cfg.prefilter, validation, cfg.name, None)
