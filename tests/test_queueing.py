"""The review queue against queueing and voting theory, and its stated semantics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator.queueing import (
    CLOSED,
    DECIDED_KEEP,
    DECIDED_REMOVE,
    EXPIRED,
    PENDING,
    STATUS_NAMES,
    CaseLog,
    ReviewQueue,
    TeamSpec,
)
from simulator.taxonomy import N_CLASSES, VIOLATING
from simulator.theory import condorcet_probability, erlang_c, mmc_mean_wait, mmc_wait_sf

MINUTE = 1 / 60


def team(**overrides: object) -> TeamSpec:
    params: dict[str, object] = {"name": "staff", "servers": np.array([1])}
    params.update(overrides)
    return TeamSpec(**params)  # type: ignore[arg-type]


def submit_all(
    queue: ReviewQueue,
    times: np.ndarray,
    classes: np.ndarray | None = None,
    priorities: np.ndarray | None = None,
    post_ids: np.ndarray | None = None,
) -> None:
    n = len(times)
    cls = np.zeros(n, np.int8) if classes is None else classes.astype(np.int8)
    ids = np.arange(n) if post_ids is None else post_ids
    queue.submit(ids, np.asarray(times, float), cls, VIOLATING[cls], priorities)


def by_arrival(log: CaseLog) -> CaseLog:
    order = np.argsort(log.arrived, kind="stable")
    return CaseLog(**{k: v[order] for k, v in vars(log).items()})


# -- M/M/c against Erlang C ---------------------------------------------------------------


def batch_mean_ci(values: np.ndarray, n_batches: int) -> tuple[float, float]:
    """Grand mean and standard error from the means of contiguous batches."""
    usable = len(values) - len(values) % n_batches
    means = values[:usable].reshape(n_batches, -1).mean(axis=1)
    return float(means.mean()), float(means.std(ddof=1) / math.sqrt(n_batches))


@pytest.mark.parametrize(
    ("c", "rho", "n_cases"), [(2, 0.7, 200_000), (5, 0.8, 300_000), (10, 0.9, 500_000),
                              (20, 0.95, 1_000_000)],
)  # fmt: skip
@pytest.mark.parametrize("seed", [11, 12])
def test_single_vote_exponential_queue_matches_erlang_c(
    c: int, rho: float, n_cases: int, seed: int
) -> None:
    mu = 60.0  # per hour: one-minute mean reviews
    lam = rho * c * mu
    arrivals_rng, queue_rng = np.random.default_rng(seed).spawn(2)
    times = np.cumsum(arrivals_rng.exponential(1 / lam, n_cases))
    queue = ReviewQueue(team(servers=np.array([c]), review_minutes=1.0, review_cv=1.0), queue_rng)
    submit_all(queue, times)
    log = by_arrival(queue.run_until(float(times[-1]) + 10))
    assert len(log) == n_cases and np.all(log.status != PENDING)

    warm_up = n_cases // 10
    wait = log.wait[warm_up:]
    threshold = 1 / (c * mu - lam)  # mean wait of those who wait
    n_batches = 20
    z = stats.t.ppf(1 - 0.0005, n_batches - 1)  # two-sided 99.9 %

    expectations = {
        "mean wait": (wait, mmc_mean_wait(lam, mu, c)),
        "P(wait > 0)": ((wait > 0).astype(float), erlang_c(c, lam / mu)),
        "P(wait > t)": ((wait > threshold).astype(float), mmc_wait_sf(threshold, lam, mu, c)),
    }
    for label, (sample, expected) in expectations.items():
        estimate, se = batch_mean_ci(sample, n_batches)
        assert se < 0.08 * expected, f"{label}: too few cases for a sharp test (se={se:.3g})"
        assert abs(estimate - expected) < z * se, (
            f"{label}: simulated {estimate:.5g} +- {se:.2g}, Erlang C {expected:.5g}"
        )


# -- Condorcet through the queue ------------------------------------------------------------

ACCURACY = np.array([0.9, 0.6, 0.7, 0.55, 0.8])


@pytest.mark.parametrize(("n", "k"), [(1, 1), (3, 2), (4, 3), (5, 3), (5, 4)])
def test_decisions_match_condorcet_per_class(n: int, k: int) -> None:
    per_class = 6_000
    rng_posts, rng_queue = np.random.default_rng(100 + 10 * n + k).spawn(2)
    classes = np.repeat(np.arange(N_CLASSES), per_class)
    rng_posts.shuffle(classes)
    times = np.sort(rng_posts.uniform(0, 100, classes.size))
    spec = team(servers=np.array([200]), votes_per_case=n, votes_to_remove=k, accuracy=ACCURACY)
    queue = ReviewQueue(spec, rng_queue)
    submit_all(queue, times, classes)
    log = queue.run_until(200.0)
    assert np.all(np.isin(log.status, [DECIDED_REMOVE, DECIDED_KEEP]))
    assert np.all(log.votes == n)
    removed = log.status == DECIDED_REMOVE
    assert np.array_equal(removed, log.remove_votes >= k)
    correct = removed == log.violating
    for cls in range(N_CLASSES):
        mask = log.cls == cls
        expected = condorcet_probability(n, ACCURACY[cls], k, violating=bool(VIOLATING[cls]))
        share = correct[mask].mean()
        bound = 4 * math.sqrt(expected * (1 - expected) / mask.sum()) + 1 / mask.sum()
        assert abs(share - expected) < bound, f"class {cls}: {share:.4f} vs {expected:.4f}"


@pytest.mark.parametrize("n", [1, 3, 5])
def test_perfect_reviewers_never_remove_legitimate_posts(n: int) -> None:
    rng = np.random.default_rng(n)
    classes = rng.integers(0, N_CLASSES, 3_000)
    queue = ReviewQueue(team(servers=np.array([20]), votes_per_case=n, votes_to_remove=n), rng)
    submit_all(queue, np.sort(rng.uniform(0, 10, classes.size)), classes)
    log = queue.run_until(100.0)
    removed = log.status == DECIDED_REMOVE
    assert np.array_equal(removed, log.violating)
    assert np.array_equal(log.remove_votes, np.where(log.violating, n, 0))


def test_always_wrong_reviewers_invert_every_decision() -> None:
    rng = np.random.default_rng(5)
    classes = rng.integers(0, N_CLASSES, 1_000)
    spec = team(servers=np.array([20]), votes_per_case=3, votes_to_remove=2,
                accuracy=np.zeros(N_CLASSES))  # fmt: skip
    queue = ReviewQueue(spec, rng)
    submit_all(queue, np.sort(rng.uniform(0, 10, classes.size)), classes)
    log = queue.run_until(100.0)
    assert np.array_equal(log.status == DECIDED_REMOVE, ~log.violating)


# -- reproducibility -----------------------------------------------------------------------


def busy_scenario(
    seed: int, priority: str
) -> tuple[TeamSpec, dict[str, np.ndarray], list[tuple[int, float]]]:
    """A queue exercising everything at once: shifts with gaps, votes, expiry, closures."""
    rng = np.random.default_rng(seed)
    n_cases = 6_000
    servers = rng.integers(0, 16, 48)
    servers[rng.random(48) < 0.2] = 0
    spec = TeamSpec(
        name="jury",
        servers=servers,
        votes_per_case=3,
        votes_to_remove=2,
        review_minutes=4.0,
        review_cv=0.7,
        accuracy=rng.uniform(0.5, 1.0, N_CLASSES),
        priority=priority,  # type: ignore[arg-type]
        expire_after_hours=6.0,
    )
    times = rng.uniform(0, 60, n_cases)
    classes = rng.integers(0, N_CLASSES, n_cases).astype(np.int8)
    post_ids = rng.integers(0, 5_000, n_cases)  # some posts get more than one case
    cases: dict[str, np.ndarray] = {
        "post_ids": post_ids,
        "times": times,
        "classes": classes,
        "violating": VIOLATING[classes],
        "priorities": rng.random(n_cases).round(1),  # many ties
    }
    closed_posts = rng.choice(post_ids, 800)
    closed_at = rng.uniform(0, 70, 800)
    closures = [(int(p), float(t)) for p, t in zip(closed_posts, closed_at, strict=True)]
    return spec, cases, closures


@pytest.mark.parametrize("priority", ["fifo", "score"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_chunk_boundaries_do_not_change_results(priority: str, seed: int) -> None:
    spec, cases, closures = busy_scenario(seed, priority)
    end = 62.0  # some cases still in the system

    def fresh() -> ReviewQueue:
        queue = ReviewQueue(spec, np.random.default_rng(seed))
        for post_id, time in closures:
            queue.close(post_id, time)
        return queue

    one = fresh()
    one.submit(**cases)
    whole = one.run_until(end)
    assert set(whole.status.tolist()) == {DECIDED_REMOVE, DECIDED_KEEP, EXPIRED, CLOSED}

    many = fresh()
    many.submit(**cases)
    step_ends = np.cumsum(np.random.default_rng(seed + 50).exponential(0.3, 1_000))
    step_ends = np.append(step_ends[step_ends < end], end)
    pieces = [many.run_until(float(t)) for t in step_ends]
    assert CaseLog.concat(pieces) == whole
    assert many.drain() == one.drain()
    assert many.busy_hours == pytest.approx(one.busy_hours, rel=1e-12)

    # arrivals submitted chunk by chunk, just before the queue reaches them
    late = fresh()
    chunks = []
    for start in np.arange(0.0, 64.0, 8.0):
        mask = (cases["times"] >= start) & (cases["times"] < start + 8)
        late.submit(**{k: v[mask] for k, v in cases.items()})
        chunks.append(late.run_until(min(start + 8, end)))
    assert CaseLog.concat(chunks) == whole
    assert late.drain() == one.drain()


def test_every_submitted_case_is_reported_exactly_once() -> None:
    spec, cases, closures = busy_scenario(7, "score")
    queue = ReviewQueue(spec, np.random.default_rng(7))
    for post_id, time in closures:
        queue.close(post_id, time)
    queue.submit(**cases)
    logs = [queue.run_until(t) for t in (5.0, 20.0, 40.0)]
    pending = queue.drain()
    assert np.all(pending.status == PENDING) and np.all(np.isnan(pending.left))
    everything = CaseLog.concat([*logs, pending])
    assert np.array_equal(np.sort(everything.arrived), np.sort(cases["times"]))
    assert sorted(everything.post_id.tolist()) == sorted(cases["post_ids"].tolist())
    in_system = pending.arrived <= queue.now
    assert in_system.sum() == queue.in_system
    assert (in_system & np.isnan(pending.started)).sum() == queue.pending
    frame = everything.to_frame()
    assert set(frame["status_name"]) <= set(STATUS_NAMES)
    assert len(frame) == len(cases["times"])


def test_same_seed_same_log_and_other_seed_differs() -> None:
    spec, cases, _ = busy_scenario(4, "fifo")
    logs = []
    for seed in (9, 9, 10):
        queue = ReviewQueue(spec, np.random.default_rng(seed))
        queue.submit(**cases)
        logs.append(queue.run_until(80.0))
    assert logs[0] == logs[1]
    assert logs[0] != logs[2]


# -- semantics ---------------------------------------------------------------------------


@pytest.mark.parametrize("expiry", [0.5, 3.0, 24.0])
def test_without_reviewers_every_case_expires(expiry: float) -> None:
    rng = np.random.default_rng(3)
    times = rng.uniform(0, 50, 500)
    queue = ReviewQueue(team(servers=np.array([0]), expire_after_hours=expiry), rng)
    submit_all(queue, times)
    log = queue.run_until(40.0)
    assert np.all(log.status == EXPIRED)
    assert np.array_equal(log.left, log.arrived + expiry)
    assert np.all(np.isnan(log.started)) and np.all(log.votes == 0)
    assert np.all(log.left <= 40.0)
    assert len(log) == np.sum(times + expiry <= 40.0)
    assert queue.pending == np.sum((times <= 40.0) & (times + expiry > 40.0))


def test_expiry_only_hits_cases_not_started_in_time() -> None:
    rng = np.random.default_rng(8)
    times = np.sort(rng.uniform(0, 20, 4_000))
    queue = ReviewQueue(team(servers=np.array([2]), expire_after_hours=1.0), rng)
    submit_all(queue, times)
    log = queue.run_until(30.0)
    expired = log.status == EXPIRED
    assert 0 < expired.sum() < len(log)  # overloaded, so some but not all expire
    assert np.all(log.wait[~expired] <= 1.0)
    assert np.allclose(log.left[expired] - log.arrived[expired], 1.0)


def test_close_drops_a_waiting_case() -> None:
    queue = ReviewQueue(team(servers=np.array([0])), np.random.default_rng(0))
    submit_all(queue, np.array([0.5, 0.7]), post_ids=np.array([10, 11]))
    queue.close(10, 1.5)
    log = queue.run_until(2.0)
    assert log.post_id.tolist() == [10]
    assert log.status[0] == CLOSED and log.left[0] == 1.5
    assert np.isnan(log.started[0]) and log.votes[0] == 0
    assert queue.pending == 1 and queue.in_system == 1


def test_close_lets_votes_in_progress_finish_but_starts_no_more() -> None:
    # one reviewer, hour-long votes, three votes needed: the first vote runs 0..1
    spec = team(servers=np.array([1]), votes_per_case=3, votes_to_remove=1,
                review_minutes=60.0, review_cv=0.0)  # fmt: skip
    queue = ReviewQueue(spec, np.random.default_rng(0))
    submit_all(queue, np.array([0.0, 0.1]), post_ids=np.array([1, 2]))
    queue.close(1, 0.5)
    assert len(queue.run_until(0.9)) == 0
    log = queue.run_until(1.0)
    assert log.post_id.tolist() == [1]
    assert log.status[0] == CLOSED and log.left[0] == 1.0 and log.votes[0] == 1
    assert log.started[0] == 0.0
    # the reviewer moves on to the other case at once
    assert queue.in_service == 1 and queue.pending == 0


def test_close_between_votes_leaves_at_once() -> None:
    # the reviewer goes off duty after the first vote; the case waits for more votes
    spec = team(servers=np.array([1, 0]), votes_per_case=2, review_minutes=60.0, review_cv=0.0)
    queue = ReviewQueue(spec, np.random.default_rng(0))
    submit_all(queue, np.array([0.0]), post_ids=np.array([4]))
    assert len(queue.run_until(1.5)) == 0
    queue.close(4, 2.0)
    log = queue.run_until(3.0)
    assert log.status.tolist() == [CLOSED] and log.left.tolist() == [2.0]
    assert log.votes.tolist() == [1]


def test_close_before_arrival_closes_on_arrival() -> None:
    queue = ReviewQueue(team(servers=np.array([5])), np.random.default_rng(0))
    queue.close(7, 1.0)
    submit_all(queue, np.array([2.0, 2.5]), post_ids=np.array([7, 8]))
    log = queue.run_until(5.0)
    closed = log.post_id == 7
    assert log.status[closed].tolist() == [CLOSED] and log.left[closed].tolist() == [2.0]
    assert log.status[~closed][0] in (DECIDED_KEEP, DECIDED_REMOVE)


def test_arrivals_and_closures_in_the_past_are_rejected() -> None:
    queue = ReviewQueue(team(), np.random.default_rng(0))
    queue.run_until(3.0)
    with pytest.raises(ValueError, match=r"times must be finite and >= now \(3.0\)"):
        submit_all(queue, np.array([2.0]))
    with pytest.raises(ValueError, match=r"close: time must be finite and >= now"):
        queue.close(1, 2.5)
    with pytest.raises(ValueError, match=r"run_until: t must be finite and >= now"):
        queue.run_until(1.0)
    with pytest.raises(ValueError, match="classes must be integer codes"):
        queue.submit(np.arange(1), np.array([4.0]), np.array([9]), np.array([True]))
    with pytest.raises(ValueError, match="violating must be a 1-D array as long as times"):
        queue.submit(np.arange(1), np.array([4.0]), np.array([1]), np.array([True, False]))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("servers", np.array([1, -1]), "servers: expected whole numbers >= 0"),
        ("servers", np.array([1.5]), "servers: expected whole numbers >= 0"),
        ("servers", np.array([], int), "servers: expected a non-empty 1-D array"),
        ("votes_per_case", 0, "votes_per_case: expected an integer >= 1"),
        ("votes_to_remove", 2, "votes_to_remove: expected an integer between 1 and"),
        ("review_minutes", 0.0, "review_minutes: expected a finite number > 0"),
        ("review_cv", -0.1, "review_cv: expected a finite number >= 0"),
        ("accuracy", np.ones((2, 5)), r"accuracy: expected a 1-D array"),
        ("accuracy", np.full(5, 1.2), r"accuracy: expected probabilities in \[0, 1\]"),
        ("priority", "random", "priority: expected one of fifo, score"),
        ("expire_after_hours", -1.0, "expire_after_hours: expected a number >= 0"),
    ],
)
def test_team_spec_names_the_bad_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        team(**{field: value})


@pytest.mark.parametrize("priority", ["score", "fifo"])
def test_line_order(priority: str) -> None:
    # nobody on duty in hour 0; one reviewer from hour 1 works through the line
    spec = team(servers=np.array([0, 1]), review_minutes=1.0, review_cv=0.0, priority=priority)
    queue = ReviewQueue(spec, np.random.default_rng(0))
    prios = np.array([0.2, 0.9, 0.5, 0.9, 0.1, 0.5])
    submit_all(queue, np.linspace(0.1, 0.6, 6), priorities=prios)
    log = queue.run_until(5.0)
    served = log.post_id[np.argsort(log.started)].tolist()
    if priority == "score":
        assert served == [1, 3, 2, 5, 0, 4]  # highest first, ties in arrival order
    else:
        assert served == [0, 1, 2, 3, 4, 5]
    assert log.started.min() == 1.0


@pytest.mark.parametrize("votes", [1, 3])
def test_no_vote_starts_beyond_capacity(votes: int) -> None:
    rng = np.random.default_rng(votes)
    servers = np.array([3, 0, 0, 2, 5, 0, 1, 4, 0, 2, 0, 0, 3])
    duration = 0.3  # hours, deterministic so each vote's interval is known
    spec = team(servers=servers, votes_per_case=votes, review_minutes=60 * duration,
                review_cv=0.0)  # fmt: skip
    queue = ReviewQueue(spec, rng)
    submit_all(queue, np.sort(rng.uniform(0, 14, 400)))
    log = queue.run_until(30.0)
    started = log.started[~np.isnan(log.started)]
    assert started.size > 50
    on_duty = np.array([spec.servers_at(s) for s in started])
    assert np.all(on_duty > 0), "a vote started in an hour with nobody on duty"
    assert np.all(log.votes <= votes)
    assert np.all(log.votes[np.isin(log.status, [DECIDED_KEEP, DECIDED_REMOVE])] == votes)
    assert np.all(log.remove_votes <= log.votes)
    if votes == 1:
        # busy reviewers at each start (including the one starting) never exceed the capacity
        busy = np.array([np.sum((started <= s) & (s < started + duration)) for s in started])
        assert np.all(busy <= on_duty)
        assert np.any(busy == on_duty)  # the queue is loaded enough for the check to bite


def test_busy_hours_and_capacity_hours() -> None:
    duration = 0.25
    spec = team(servers=np.array([2, 0, 3]), review_minutes=60 * duration, review_cv=0.0)
    queue = ReviewQueue(spec, np.random.default_rng(0))
    times = np.sort(np.random.default_rng(1).uniform(0, 4, 60))
    submit_all(queue, times)
    log = queue.run_until(3.1)
    pending = queue.drain()
    started = np.concatenate([log.started, pending.started])
    started = started[~np.isnan(started)]
    expected = np.sum(np.minimum(started + duration, 3.1) - started)
    assert queue.busy_hours == pytest.approx(expected)
    assert queue.capacity_hours == pytest.approx(2 + 0 + 3 + 0.1 * 3)
    assert queue.busy_hours <= queue.capacity_hours


@pytest.mark.parametrize("cv", [0.0, 0.5, 1.0, 2.0])
def test_vote_durations_have_the_stated_distribution(cv: float) -> None:
    n_cases = 10_000
    rng = np.random.default_rng(int(cv * 10))
    spec = team(servers=np.array([10_000]), review_minutes=3.0, review_cv=cv)
    queue = ReviewQueue(spec, rng)
    submit_all(queue, np.linspace(0, 1, n_cases))
    log = queue.run_until(1_000.0)
    assert np.all(log.wait == 0)  # ample reviewers: every case starts on arrival
    minutes = (log.left - log.started) * 60
    if cv == 0:
        assert np.allclose(minutes, 3.0)
        return
    if cv == 1:
        fitted = stats.expon(scale=3.0)
    else:
        sigma = math.sqrt(math.log1p(cv**2))
        fitted = stats.lognorm(s=sigma, scale=3.0 * math.exp(-(sigma**2) / 2))
    assert fitted.mean() == pytest.approx(3.0) and fitted.std() == pytest.approx(3.0 * cv)
    assert stats.kstest(minutes, fitted.cdf).pvalue > 1e-4


@pytest.mark.parametrize("priority", ["fifo", "score"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_expedited_posts_are_the_next_cases_started(priority: str, seed: int) -> None:
    queue = ReviewQueue(
        team(servers=np.array([1]), priority=priority, votes_per_case=3, votes_to_remove=2),
        np.random.default_rng(seed),
    )
    submit_all(queue, np.zeros(20), priorities=np.linspace(1, 0, 20))
    queue.expedite(np.array([15, 9]), 0.0)
    submit_all(queue, np.full(1, 0.5), post_ids=np.array([30]))
    queue.expedite(np.array([30]), 0.2)  # before its case arrives
    log = by_arrival(queue.run_until(1e6))
    assert (
        len(log) == 21
        and (log.status == DECIDED_REMOVE).sum() + (log.status == DECIDED_KEEP).sum() == 21
    )
    started = log.post_id[np.argsort(log.started, kind="stable")].tolist()
    # The case at the head when the notice came keeps its reviewer; then the
    # expedited ones; the late one is the first started after it arrives; the
    # rest keep their order.
    assert started[0] == 0
    assert set(started[1:3]) == {15, 9}
    sorted_started = np.sort(log.started)
    assert started.index(30) == int((sorted_started < 0.5).sum())
    rest = [p for p in started if p not in (0, 15, 9, 30)]
    assert rest == sorted(rest)
    # Each case still got exactly the votes it needs.
    assert (log.votes == 3).all()


@pytest.mark.parametrize("priority", ["fifo", "reach"])
def test_waiting_since_lists_the_cases_waiting_for_a_first_vote(priority: str) -> None:
    from simulator.queueing.caselog import KIND_APPEAL, KIND_NAMES

    rng = np.random.default_rng(5)
    n = 3_000
    spec = TeamSpec(
        name="jury",
        servers=np.full(48, 3),
        votes_per_case=3,
        votes_to_remove=2,
        review_minutes=6.0,
        priority=priority,  # type: ignore[arg-type]
        expire_after_hours=10.0,
    )
    q = ReviewQueue(spec, np.random.default_rng(1))
    times = rng.uniform(0, 30, n)
    kinds = np.where(rng.random(n) < 0.2, KIND_APPEAL, 0).astype(np.int8)
    classes = rng.integers(0, N_CLASSES, n).astype(np.int8)
    q.submit(np.arange(n), times, classes, VIOLATING[classes], rng.random(n), kinds)
    for pid in range(0, n, 7):
        q.close(pid, float(times[pid]) + 0.5)
    q.expedite(np.arange(5, n, 11), 3.0)
    q.run_until(12.0)
    # From the queue's own record of every case still in the system: arrived by
    # 12, not started, not an appeal.
    held = q.drain().to_frame()
    expected = held[
        (held["arrived"] <= 12.0)
        & held["started"].isna()
        & (held["kind"] != KIND_NAMES.index("appeal"))
    ]["arrived"]
    waiting = q.waiting_since()
    assert len(waiting) > 100  # a backlog, or the test shows nothing
    np.testing.assert_array_equal(np.sort(waiting), np.sort(expected.to_numpy()))
    assert len(q.waiting_since((0, 1, KIND_APPEAL))) == q.pending


# -- a decide hook -------------------------------------------------------------------------


def test_a_decide_hook_sets_what_is_logged_and_followed_up() -> None:
    """What ``decide`` makes of a decided case's votes is what the queue logs and what
    its follow-up hears; cases it leaves alone are as without it (a brigade's sway on
    the jury is such a hook)."""
    benign = N_CLASSES - 1  # legitimate: an accurate jury mostly keeps
    spec = team(name="jury", servers=np.array([4]), votes_per_case=3, votes_to_remove=2)
    times = np.linspace(0.0, 20.0, 400)
    heard: dict[int, tuple[int, int]] = {}

    def followup(post_id: int, kind: int, status: int, removes: int, *_: float) -> None:
        heard[post_id] = (status, removes)

    def decide(post_id: int, status: int, removes: int, votes: int) -> tuple[int, int]:
        return (DECIDED_REMOVE, votes) if post_id % 2 else (status, removes)

    logs = []
    for hook in (None, decide):
        queue = ReviewQueue(spec, np.random.default_rng(5), followup, hook)
        submit_all(queue, times, np.full(len(times), benign))
        logs.append(by_arrival(queue.run_until(100.0)).to_frame().set_index("post_id"))
    plain, swayed = logs
    odd = swayed.index % 2 == 1
    assert (plain["status"] == DECIDED_KEEP).sum() > 300
    assert (swayed.loc[odd, "status"] == DECIDED_REMOVE).all()
    assert (swayed.loc[odd, "remove_votes"] == 3).all()
    assert swayed.loc[~odd].equals(plain.loc[~odd])
    assert all(heard[p] == (DECIDED_REMOVE, 3) for p in swayed.index[odd])
