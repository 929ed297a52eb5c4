"""Closed forms the simulator is checked against, and that reports quote.

Two results from queueing and voting theory:

* **Erlang C** - with one vote per case, exponential review times, Poisson
  arrivals and ``c`` reviewers, a review queue is an M/M/c queue. Erlang C
  gives the probability that a case has to wait, and from it the mean wait
  and the whole waiting-time distribution.
* **Condorcet** - a decision rule "remove iff at least ``k`` of ``n`` votes say
  remove", with votes that are independently correct with probability ``p``,
  decides correctly with a binomial tail probability.

Rates are per unit of time (any unit, as long as it is the same for arrival
and service rates); waits come out in that unit.
"""

from __future__ import annotations

import math
from typing import overload

import numpy as np
from scipy import stats

__all__ = [
    "condorcet_probability",
    "erlang_b",
    "erlang_c",
    "majority",
    "mmc_mean_wait",
    "mmc_wait_quantile",
    "mmc_wait_sf",
]


def _check_servers_and_load(c: int, load: float, *, stable: bool) -> None:
    if int(c) != c or c < 1:
        raise ValueError(f"servers c: expected a positive integer, got {c!r}")
    if not math.isfinite(load) or load < 0:
        raise ValueError(f"offered load: expected a finite number >= 0, got {load!r}")
    if stable and load >= c:
        raise ValueError(
            f"offered load: expected less than the number of servers ({c}) for a stable "
            f"queue, got {load!r}"
        )


def erlang_b(c: int, load: float) -> float:
    """Blocking probability of an M/M/c/c loss system with offered load ``load`` (Erlangs).

    Uses ``B = P(X = c) / P(X <= c)`` for ``X ~ Poisson(load)``, evaluated in
    log space, so it neither overflows nor loses precision for large ``c``.
    """
    _check_servers_and_load(c, load, stable=False)
    if load == 0:
        return 0.0
    log_b = stats.poisson.logpmf(c, load) - stats.poisson.logcdf(c, load)
    return float(min(1.0, math.exp(log_b)))


def erlang_c(c: int, load: float) -> float:
    """Probability that an arriving case waits in an M/M/c queue.

    ``load`` is the offered load ``arrival_rate / service_rate`` in Erlangs and
    must be below ``c``. Derived from Erlang B: ``C = c B / (c - load (1 - B))``.
    """
    _check_servers_and_load(c, load, stable=True)
    b = erlang_b(c, load)
    return float(c * b / (c - load * (1.0 - b)))


def _rates(arrival_rate: float, service_rate: float, c: int) -> tuple[float, float]:
    """(probability of waiting, rate of the conditional exponential wait)."""
    if not service_rate > 0 or not math.isfinite(service_rate):
        raise ValueError(f"service_rate: expected a finite number > 0, got {service_rate!r}")
    if not arrival_rate >= 0 or not math.isfinite(arrival_rate):
        raise ValueError(f"arrival_rate: expected a finite number >= 0, got {arrival_rate!r}")
    load = arrival_rate / service_rate
    return erlang_c(c, load), c * service_rate - arrival_rate


def mmc_mean_wait(arrival_rate: float, service_rate: float, c: int) -> float:
    """Mean time a case waits before service starts in an M/M/c queue."""
    p_wait, drain_rate = _rates(arrival_rate, service_rate, c)
    return p_wait / drain_rate


@overload
def mmc_wait_sf(t: float, arrival_rate: float, service_rate: float, c: int) -> float: ...
@overload
def mmc_wait_sf(t: np.ndarray, arrival_rate: float, service_rate: float, c: int) -> np.ndarray: ...
def mmc_wait_sf(
    t: float | np.ndarray, arrival_rate: float, service_rate: float, c: int
) -> float | np.ndarray:
    """``P(wait > t)`` in an M/M/c queue: ``C exp(-(c mu - lambda) t)`` for ``t >= 0``.

    Vectorised over ``t``; for ``t < 0`` the probability is 1.
    """
    p_wait, drain_rate = _rates(arrival_rate, service_rate, c)
    tt = np.asarray(t, dtype=float)
    sf = np.where(tt < 0, 1.0, p_wait * np.exp(-drain_rate * np.maximum(tt, 0.0)))
    if np.ndim(t) == 0:
        return float(sf)
    return sf


def mmc_wait_quantile(q: float, arrival_rate: float, service_rate: float, c: int) -> float:
    """The ``q``-quantile of the wait in an M/M/c queue (0 if ``q`` falls on the atom at 0)."""
    if not 0 <= q < 1:
        raise ValueError(f"q: expected a probability in [0, 1), got {q!r}")
    p_wait, drain_rate = _rates(arrival_rate, service_rate, c)
    if 1 - q >= p_wait:
        return 0.0
    return math.log(p_wait / (1 - q)) / drain_rate


def majority(n: int) -> int:
    """Votes needed for a strict majority of ``n`` (ties keep the post)."""
    if int(n) != n or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    return int(n) // 2 + 1


def condorcet_probability(
    n: int, p: float, k: int | None = None, *, violating: bool = True
) -> float:
    """Probability that "remove iff at least ``k`` of ``n`` votes say remove" is right.

    Each of the ``n`` votes is independently correct with probability ``p``.
    For a violating post the rule is right when at least ``k`` votes are
    correct (say remove); for a legitimate post it is right when fewer than
    ``k`` votes say remove, i.e. at least ``n - k + 1`` are correct. With an
    odd ``n`` and a strict majority both cases agree (Condorcet's jury
    theorem); ``k`` defaults to the strict majority :func:`majority`.
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"p: expected a probability in [0, 1], got {p!r}")
    k = majority(n) if k is None else k
    if int(k) != k or not 1 <= k <= n:
        raise ValueError(f"k: expected an integer between 1 and n={n}, got {k!r}")
    needed_correct = k if violating else n - k + 1
    # P(correct votes >= needed) = sf(needed - 1)
    return float(stats.binom.sf(needed_correct - 1, n, p))
