"""Closed forms in simulator.theory against independent computations."""

from __future__ import annotations

import math
from fractions import Fraction
from itertools import pairwise, product

import numpy as np
import pytest

from simulator.theory import (
    condorcet_probability,
    erlang_b,
    erlang_c,
    majority,
    mmc_mean_wait,
    mmc_wait_quantile,
    mmc_wait_sf,
)


def erlang_c_by_summation(c: int, load: Fraction) -> Fraction:
    """Textbook formula, exact in rationals: the M/M/c probability of waiting."""
    tail = load**c / math.factorial(c) * Fraction(c) / (c - load)
    head = sum(load**k / math.factorial(k) for k in range(c))
    return tail / (head + tail)


def erlang_b_by_recursion(c: int, load: float) -> float:
    b = 1.0
    for k in range(1, c + 1):
        b = load * b / (k + load * b)
    return b


@pytest.mark.parametrize(
    ("c", "load"),
    [(1, Fraction(1, 2)), (2, Fraction(1)), (3, Fraction(5, 2)), (10, Fraction(8)),
     (20, Fraction(19)), (50, Fraction(45))],
)  # fmt: skip
def test_erlang_c_matches_direct_summation(c: int, load: Fraction) -> None:
    assert erlang_c(c, float(load)) == pytest.approx(
        float(erlang_c_by_summation(c, load)), rel=1e-9
    )


def test_erlang_c_textbook_values() -> None:
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: P(wait) = rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # M/M/2 at rho = 0.5
    assert erlang_c(1, 0.0) == 0.0


@pytest.mark.parametrize(("c", "rho"), [(500, 0.9), (2_000, 0.95), (20_000, 0.99)])
def test_erlang_large_c_is_finite_and_matches_recursion(c: int, rho: float) -> None:
    load = rho * c
    b = erlang_b_by_recursion(c, load)
    assert erlang_b(c, load) == pytest.approx(b, rel=1e-8)
    expected_c = c * b / (c - load * (1 - b))
    got = erlang_c(c, load)
    assert math.isfinite(got) and 0 < got < 1
    assert got == pytest.approx(expected_c, rel=1e-8)


@pytest.mark.parametrize(("c", "load"), [(0, 0.5), (2, 2.0), (2, 3.0), (2, -1.0)])
def test_erlang_c_rejects_bad_input(c: int, load: float) -> None:
    with pytest.raises(ValueError, match=r"servers c|offered load"):
        erlang_c(c, load)


@pytest.mark.parametrize(("lam", "mu", "c"), [(0.7, 1.0, 1), (4.0, 1.0, 5), (18.0, 2.0, 10)])
def test_mmc_wait_distribution_is_consistent(lam: float, mu: float, c: int) -> None:
    p_wait = erlang_c(c, lam / mu)
    mean = mmc_mean_wait(lam, mu, c)
    assert mean == pytest.approx(p_wait / (c * mu - lam))
    assert mmc_wait_sf(0.0, lam, mu, c) == pytest.approx(p_wait)
    assert mmc_wait_sf(-1.0, lam, mu, c) == 1.0
    # the mean is the integral of the survival function
    grid = np.linspace(0, 60 * mean / p_wait, 200_001)
    assert np.trapezoid(mmc_wait_sf(grid, lam, mu, c), grid) == pytest.approx(mean, rel=1e-6)
    for q in (0.5, 0.9, 0.99):
        x = mmc_wait_quantile(q, lam, mu, c)
        if x > 0:
            assert mmc_wait_sf(x, lam, mu, c) == pytest.approx(1 - q)
        else:
            assert 1 - q >= p_wait


def test_mm1_mean_wait_textbook() -> None:
    # M/M/1: Wq = rho / (mu - lambda)
    assert mmc_mean_wait(0.8, 1.0, 1) == pytest.approx(0.8 / 0.2)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.55, 0.9, 1.0])
def test_condorcet_single_vote_is_p(p: float) -> None:
    assert condorcet_probability(1, p) == pytest.approx(p)
    assert condorcet_probability(1, p, violating=False) == pytest.approx(p)


def condorcet_by_enumeration(n: int, p: float, k: int, violating: bool) -> float:
    total = 0.0
    for votes in product((True, False), repeat=n):  # True = this vote is correct
        prob = math.prod(p if v else 1 - p for v in votes)
        correct = sum(votes)
        removes = correct if violating else n - correct
        if (removes >= k) == violating:
            total += prob
    return total


@pytest.mark.parametrize(
    ("n", "p", "k"), [(3, 0.7, 2), (4, 0.7, 3), (5, 0.6, 4), (5, 0.8, 5), (6, 0.55, 2)]
)
@pytest.mark.parametrize("violating", [True, False])
def test_condorcet_matches_enumeration(n: int, p: float, k: int, violating: bool) -> None:
    expected = condorcet_by_enumeration(n, p, k, violating)
    assert condorcet_probability(n, p, k, violating=violating) == pytest.approx(expected)


@pytest.mark.parametrize("p", [0.51, 0.6, 0.75, 0.9])
def test_condorcet_majority_improves_with_n_when_p_above_half(p: float) -> None:
    probs = [condorcet_probability(n, p) for n in (1, 3, 5, 7, 9, 15, 31)]
    assert all(b > a for a, b in pairwise(probs))
    assert probs[0] == pytest.approx(p)


@pytest.mark.parametrize("p", [0.3, 0.45])
def test_condorcet_majority_worsens_with_n_when_p_below_half(p: float) -> None:
    probs = [condorcet_probability(n, p) for n in (1, 3, 5, 7, 9)]
    assert all(b < a for a, b in pairwise(probs))


@pytest.mark.parametrize(("n", "p"), [(3, 0.8), (5, 0.9)])
def test_condorcet_unanimity_to_remove(n: int, p: float) -> None:
    # violating posts come down only if every vote is right; legitimate posts
    # stay unless every vote is wrong
    assert condorcet_probability(n, p, n) == pytest.approx(p**n)
    assert condorcet_probability(n, p, n, violating=False) == pytest.approx(1 - (1 - p) ** n)


def test_majority_and_condorcet_validation() -> None:
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    with pytest.raises(ValueError, match="k: expected an integer between 1 and n=3"):
        condorcet_probability(3, 0.7, 4)
    with pytest.raises(ValueError, match="p: expected a probability"):
        condorcet_probability(3, 1.5)
