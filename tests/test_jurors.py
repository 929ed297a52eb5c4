"""Individual jurors, richer case rules, escalation, appeals, re-reports.

Theory first (the juror loop against Erlang C and Condorcet), then the
population's draws, then the engine's routing of follow-up cases.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers import tweak
from scipy import stats

from simulator.api import simulate
from simulator.config import PlatformPolicy, Scenario, load_text
from simulator.errors import ConfigError
from simulator.queueing import PENDING, JurorPool, ReviewQueue, TeamSpec
from simulator.seeding import SeedTree
from simulator.stages.appeals import KeyedDraws
from simulator.stages.jurors import juror_accuracy, plan_jurors
from simulator.taxonomy import N_CLASSES, VIOLATING
from simulator.theory import condorcet_probability, erlang_c, mmc_mean_wait

Z = 3.29  # two-sided 99.9 %


def fixed_jurors(c: int, accuracy: np.ndarray, record: bool = False) -> JurorPool:
    """``c`` jurors on duty from time 0 for ever: the M/M/c special case."""
    return JurorPool(
        accuracy=np.tile(accuracy, (c, 1)),
        session_start=np.zeros(c),
        session_juror=np.arange(c),
        session_reviews=np.full(c, 10**12),
        idle_hours=1e12,
        record_votes=record,
    )


def run_pool(
    spec: TeamSpec, n: int, rate: float, seed: int, classes: np.ndarray | None = None
) -> tuple[ReviewQueue, pd.DataFrame]:
    arrivals, draws = np.random.default_rng(seed).spawn(2)
    times = np.cumsum(arrivals.exponential(1 / rate, n))
    cls = np.zeros(n, np.int8) if classes is None else classes
    queue = ReviewQueue(spec, draws)
    queue.submit(np.arange(n), times, cls, VIOLATING[cls])
    log = queue.run_until(float(times[-1]) + 1000)
    return queue, log.to_frame().sort_values("arrived", kind="stable")


# -- the juror loop against theory --------------------------------------------------------------


@pytest.mark.parametrize(("c", "rho"), [(3, 0.7), (8, 0.85), (15, 0.9), (20, 0.95)])
@pytest.mark.parametrize("seed", [1, 2])
def test_always_present_jurors_match_erlang_c(c: int, rho: float, seed: int) -> None:
    mu = 60.0
    lam = rho * c * mu
    n = 150_000
    spec = TeamSpec("jury", np.array([c]), jurors=fixed_jurors(c, np.ones(N_CLASSES)))
    _, log = run_pool(spec, n, lam, seed)
    wait = (log["started"] - log["arrived"]).to_numpy()[n // 10 :]
    usable = len(wait) - len(wait) % 20
    for sample, expected in (
        (wait, mmc_mean_wait(lam, mu, c)),
        ((wait > 0).astype(float), erlang_c(c, lam / mu)),
    ):
        means = sample[:usable].reshape(20, -1).mean(axis=1)
        se = means.std(ddof=1) / math.sqrt(20)
        assert abs(means.mean() - expected) < stats.t.ppf(0.9995, 19) * se


@pytest.mark.parametrize(("k", "p"), [(1, 0.7), (2, 0.6), (3, 0.75), (4, 0.55), (5, 0.65)])
@pytest.mark.parametrize("seed", [3, 4])
def test_first_k_agree_of_2k_minus_1_is_a_condorcet_majority(k: int, p: float, seed: int) -> None:
    """Stopping when k agree, with at most 2k-1 votes, decides as a majority of 2k-1."""
    n_votes, n = 2 * k - 1, 20_000
    acc = np.full(N_CLASSES, p)
    spec = TeamSpec(
        "jury", np.array([40]), votes_per_case=n_votes, votes_to_remove=k,
        rule="first_k_agree", jurors=fixed_jurors(40, acc),
    )  # fmt: skip
    cls = np.random.default_rng(seed).integers(0, N_CLASSES, n).astype(np.int8)
    _, log = run_pool(spec, n, 200.0, seed, cls)
    correct = np.where(log["violating"], log["status_name"] == "decided_remove",
                       log["status_name"] == "decided_keep")  # fmt: skip
    expected = condorcet_probability(n_votes, p, k, violating=True)
    assert abs(correct.mean() - expected) < Z * math.sqrt(expected * (1 - expected) / n)
    # and it never casts more votes than it needs
    votes = log["votes"].to_numpy()
    assert votes.min() >= k and votes.max() <= n_votes


@pytest.mark.parametrize(("n_votes", "k", "p"), [(3, 2, 0.7), (5, 4, 0.8), (4, 3, 0.6)])
def test_individual_votes_match_condorcet_for_k_of_n(n_votes: int, k: int, p: float) -> None:
    n = 20_000
    spec = TeamSpec("jury", np.array([30]), votes_per_case=n_votes, votes_to_remove=k,
                    jurors=fixed_jurors(30, np.full(N_CLASSES, p)))  # fmt: skip
    cls = np.zeros(n, np.int8)  # violating: remove is correct
    _, log = run_pool(spec, n, 100.0, 7, cls)
    share = (log["status_name"] == "decided_remove").mean()
    expected = condorcet_probability(n_votes, p, k, violating=True)
    assert abs(share - expected) < Z * math.sqrt(expected * (1 - expected) / n)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_a_juror_never_votes_twice_on_a_case(seed: int) -> None:
    # three jurors, three votes a case, heavy load: every case needs all three
    spec = TeamSpec("jury", np.array([3]), votes_per_case=3, votes_to_remove=2,
                    jurors=fixed_jurors(3, np.full(N_CLASSES, 0.8), record=True))  # fmt: skip
    queue, log = run_pool(spec, 3_000, 50.0, seed)
    votes = queue.vote_log
    assert len(votes) == log["votes"].sum()
    per_case = votes.groupby("case")["juror"]
    assert (per_case.nunique() == per_case.size()).all()
    assert (per_case.size() == 3).all()


def test_sessions_end_and_idle_jurors_leave() -> None:
    # one juror, sessions of two reviews, waiting a quarter of an hour for work
    pool = JurorPool(
        accuracy=np.ones((1, N_CLASSES)),
        session_start=np.array([0.0, 5.0]),
        session_juror=np.array([0, 0]),
        session_reviews=np.array([2, 2]),
        idle_hours=0.25,
    )
    spec = TeamSpec("jury", np.array([1]), review_minutes=1.0, review_cv=0.0, jurors=pool)
    queue = ReviewQueue(spec, np.random.default_rng(0))
    queue.submit(np.arange(4), np.array([0.1, 0.1, 0.1, 7.0]), np.zeros(4, np.int8),
                 np.ones(4, bool))  # fmt: skip
    log = queue.run_until(10.0).to_frame().sort_values("post_id")
    # two reviews end the first session; the third case waits for the next one
    assert log["started"].tolist() == pytest.approx([0.1, 0.1 + 1 / 60, 5.0])
    # nobody is on duty when the last case arrives: the juror left after waiting
    assert queue.pending == 1
    first, second = 0.1 + 2 / 60, 1 / 60 + 0.25
    assert queue.available_hours(10.0) == pytest.approx(first + second)


def test_each_idle_juror_leaves_idle_hours_after_last_being_freed() -> None:
    # Three jurors come on duty at 0, 0.05 and 0.1 and wait 0.25 h for work. The
    # longest idle one takes the only case (one minute), so the others leave first.
    pool = JurorPool(
        accuracy=np.ones((3, N_CLASSES)),
        session_start=np.array([0.0, 0.05, 0.1]),
        session_juror=np.arange(3),
        session_reviews=np.full(3, 100),
        idle_hours=0.25,
    )
    spec = TeamSpec("jury", np.array([3]), review_minutes=1.0, review_cv=0.0, jurors=pool)
    queue = ReviewQueue(spec, np.random.default_rng(0))
    queue.submit(np.arange(1), np.array([0.2]), np.zeros(1, np.int8), np.ones(1, bool))
    back = 0.2 + 1 / 60  # juror 0 is free again
    for t, on_duty in ((0.29, 3), (0.31, 2), (0.36, 1), (back + 0.249, 1), (back + 0.251, 0)):
        queue.run_until(t)
        assert queue.capacity == on_duty, t
    assert queue.available_hours(queue.now) == pytest.approx(back + 0.25 + 0.25 + 0.25)


@pytest.mark.parametrize("seed", [5, 6])
def test_follow_ups_drawn_per_chunk_are_those_drawn_one_by_one(
    quick_sampled: Scenario, jury_only: PlatformPolicy, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook reads what Followups.prepare drew per chunk; without it, it draws each
    post's columns and keyed draws when a case is decided: the same run."""
    from simulator.stages.followups import Followups

    scenario = tweak(quick_sampled, appeals=APPEALING)
    policy = tweak(jury_only, **RICH, appeals__queue="jury")
    a = simulate(scenario, policy, seed=seed)
    monkeypatch.setattr(Followups, "prepare", lambda self, cols, idx: None)
    b = simulate(scenario, policy, seed=seed)
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)
    for team in a.cases:
        pd.testing.assert_frame_equal(a.cases[team], b.cases[team])
    assert a.summary["appeals"]["appealed"] > 0
    kept_again = a.cases["jury"].groupby("post_id").size()
    assert (kept_again > 1).any()  # re-reports and appeals came back to the jury


# -- the population -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_juror_accuracy_has_the_stated_mean_and_sympathy_lowers_recall(seed: int) -> None:
    mean = np.array([0.85, 0.7, 0.8, 0.8, 0.97])
    n = 40_000
    rng = np.random.default_rng(seed)
    plain = juror_accuracy(mean, 10.0, 0.0, np.zeros(N_CLASSES), n, rng, VIOLATING)
    se = plain.std(axis=0) / math.sqrt(n)
    assert np.all(np.abs(plain.mean(axis=0) - mean) < Z * se)
    assert np.all(plain.std(axis=0) > 0.05)  # a spread, not a point
    sympathy = np.array([0.2, 0.5, 0.0, 0.0, 0.0])
    biased = juror_accuracy(mean, None, 1.0, sympathy, 10, rng, VIOLATING)
    assert biased[0] == pytest.approx(np.where(VIOLATING, mean * (1 - sympathy), mean))


def test_pool_grows_with_recruitment_and_shrinks_with_attrition(
    quick_sampled: Scenario, jury_only: PlatformPolicy
) -> None:
    def pool(**population: object) -> np.ndarray:
        quick_month = tweak(quick_sampled, days=28)
        policy = tweak(jury_only, jury__population=population)
        return plan_jurors(policy.jury, quick_month, SeedTree(1)).pool_by_week

    assert (pool() == jury_only.jury.pool_size).all()
    growing = pool(recruits_per_week_per_1000_users=20.0)
    assert np.all(np.diff(growing) > 0)
    shrinking = pool(attrition_per_week=0.3)
    assert np.all(np.diff(shrinking) < 0)


def test_keyed_draws_do_not_depend_on_order() -> None:
    draws = KeyedDraws(SeedTree(9), "x")
    ids = np.arange(0, 50_000, 7)
    forward = draws.uniforms(ids, 3)
    assert np.array_equal(draws.uniforms(ids[::-1], 3)[::-1], forward)
    # bit for bit the scalar draws, and the ids are left as they were
    assert forward.tolist() == [draws.uniform(int(i), 3) for i in ids]
    assert np.array_equal(ids, np.arange(0, 50_000, 7))
    assert abs(forward.mean() - 0.5) < Z * math.sqrt(1 / 12 / len(ids))


# -- the engine: escalation, appeals, re-reports --------------------------------------------------

RICH = {
    "jury__pool_size": 300,
    "jury__rule": "first_k_agree",
    "jury__votes_to_remove": 3,
    "jury__priority": "reports",
    "jury__population": {
        "session_reviews": 8,
        "accuracy_concentration": 15,
        "sympathetic_share": 0.3,
        "sympathy": {
            "violent_threat": 0.2,
            "incitement": 0.5,
            "violent_news": 0,
            "heated_political": 0,
            "benign": 0,
        },
        "attrition_per_week": 0.05,
        "recruits_per_week_per_1000_users": 1.0,
    },
    "jury__escalation": {"split": True, "split_minority": 2},
    "staff__reviewers": 2,
    "staff__shift_hours": 10,
    "reports__rereports_after_keep": 2,
}
APPEALING = {"share_if_legitimate": 0.7, "share_if_violating": 0.2, "mean_delay_hours": 3.0}


@pytest.mark.parametrize("queue", ["jury", "staff", "separate"])
@pytest.mark.parametrize("seed", [5, 6])
def test_chunk_size_changes_nothing_with_every_follow_up(
    quick_sampled: Scenario, jury_only: PlatformPolicy, queue: str, seed: int
) -> None:
    scenario = tweak(quick_sampled, appeals=APPEALING)
    policy = tweak(jury_only, **RICH, appeals__queue=queue)
    a = simulate(scenario, policy, seed=seed, chunk_days=1)
    b = simulate(scenario, policy, seed=seed, chunk_days=7)
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)
    for team in a.cases:
        pd.testing.assert_frame_equal(a.cases[team], b.cases[team])
    assert a.summary["appeals"]["appealed"] > 0
    assert a.summary["appeals"]["escalated_to_staff"] > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_perfect_appeal_reviewers_restore_exactly_the_wrongly_removed(
    quick_sampled: Scenario, jury_only: PlatformPolicy, seed: int
) -> None:
    scenario = tweak(quick_sampled, appeals={**APPEALING, "share_if_violating": 0.5})
    perfect = dict.fromkeys(("violent_threat", "incitement", "violent_news",
                             "heated_political", "benign"), 1.0)  # fmt: skip
    policy = tweak(jury_only, appeals__queue="separate", appeals__reviewers=5,
                   appeals__accuracy=perfect)  # fmt: skip
    result = simulate(scenario, policy, seed=seed)
    cases = result.cases["appeals"]
    decided = cases[cases["status"] <= 1]
    assert len(decided) > 20
    restored = decided["status_name"] == "decided_keep"
    assert (restored == ~decided["violating"]).all()
    a = result.summary["appeals"]
    assert a["restored_violating"] == 0 and a["restored"] == a["restored_legitimate"] > 0
    # authors of wrongly removed posts appeal at the scenario's rate (binomial error)
    n_wrong = result.summary["legitimate"]["wrongly_removed"]
    share = APPEALING["share_if_legitimate"]
    assert abs(a["appealed_legitimate"] - share * n_wrong) < Z * math.sqrt(
        n_wrong * share * (1 - share)
    )
    downs = a["down_hours_of_restored"]
    assert downs["p50"] is not None and downs["p50"] > 0


@pytest.mark.parametrize("seed", [1, 2])
def test_high_reach_cases_all_go_to_staff(
    quick_sampled: Scenario, jury_only: PlatformPolicy, seed: int
) -> None:
    policy = tweak(jury_only, staff__reviewers=3, jury__escalation={"reach_above": 1e-9})
    result = simulate(quick_sampled, policy, seed=seed)
    jury = result.cases["jury"]
    decided = int(jury["status"].isin([0, 1]).sum())
    staff = result.cases["staff"]
    assert decided > 0
    assert (staff["kind_name"] == "escalation").sum() == decided
    assert result.summary["violating"]["removed_by"]["jury"] == 0


@pytest.mark.parametrize("seed", [1, 2])
def test_wrong_keeps_are_reported_again_up_to_the_limit(
    quick_sampled: Scenario, jury_only: PlatformPolicy, seed: int
) -> None:
    blind = {"violent_threat": 0.0, "incitement": 0.0, "violent_news": 1.0,
             "heated_political": 1.0, "benign": 1.0}  # fmt: skip
    base = tweak(jury_only, jury__accuracy=blind, reports__rereports_after_keep=0)
    again = tweak(base, reports__rereports_after_keep=2)
    once = simulate(quick_sampled, base, seed=seed).cases["jury"]
    more = simulate(quick_sampled, again, seed=seed).cases["jury"]
    per_post = more[more["violating"]].groupby("post_id").size()
    assert per_post.max() <= 3 and (per_post > 1).any()
    assert once[once["violating"]].groupby("post_id").size().max() == 1
    # jurors who never remove violating posts: every re-report is kept again
    assert (more[more["violating"]]["status_name"] != "decided_remove").all()


def test_pending_cases_are_counted_once(quick_sampled: Scenario, jury_only: PlatformPolicy) -> None:
    scenario = tweak(quick_sampled, appeals=APPEALING)
    result = simulate(scenario, tweak(jury_only, **RICH), seed=3)
    for cases in result.cases.values():
        key = cases[["post_id", "arrived", "kind"]]
        assert not key.duplicated().any()
        assert set(cases["status"].unique()) <= {0, 1, 2, 3, PENDING}


@pytest.mark.parametrize(
    ("yaml_tail", "message"),
    [
        ("jury: {pool_size: 10, rule: first_k_agree}", "needs a `population` block"),
        ("jury: {pool_size: 10, escalation: {split: true}}", "staff.reviewers is 0"),
        ("jury: {pool_size: 10, population: {weekday_profile: [1, 1]}}", "expected 7 values"),
        ("jury: {pool_size: 10, population: {sessions: 3}}", "sessions"),
    ],
)
def test_bad_jury_config_is_a_clear_error(yaml_tail: str, message: str) -> None:
    text = f"kind: PlatformPolicy\nversion: 1\nname: x\n{yaml_tail}\n"
    with pytest.raises(ConfigError, match=message):
        load_text(text)
