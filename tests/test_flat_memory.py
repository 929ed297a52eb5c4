"""What keeps a large run's memory down without changing a result: the harmful view
rate at one time summed a block at a time, the held posts settled a block at a
time at the end, the per-post frame taking its table's arrays over."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.enforcement.harm import view_rate_at, view_rates


def _posts(seed: int, n: int, decays: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    created = rng.uniform(0, 100, n)
    reach = rng.lognormal(3, 2, n)
    if decays == 1:  # a held table's single decay: one value broadcast
        decay = np.broadcast_to(np.array([0.3]), (n,))
    else:
        decay = rng.choice(np.linspace(0.05, 1.5, decays), n)
    removed = np.where(rng.random(n) < 0.4, created + rng.exponential(10, n), np.inf)
    return created, reach, decay, removed


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("decays", [1, 3])
@pytest.mark.parametrize("block", [1, 7, 1 << 20])
def test_view_rate_at_is_view_rates_bit_for_bit(seed: int, decays: int, block: int) -> None:
    created, reach, decay, removed = _posts(seed, 3_000, decays)
    rows = np.flatnonzero(np.random.default_rng(seed + 100).random(len(created)) < 0.7)
    for t in (0.0, 13.7, 55.0, 99.9, 250.0):
        v = rows[created[rows] <= t]
        expected = view_rates(np.array([t]), created[v], reach[v] * decay[v], decay[v], removed[v])[
            0
        ]
        got = view_rate_at(t, rows, created, reach, decay, removed, block=block)
        assert got == expected  # the same float, not a close one
        assert isinstance(got, float)


def test_view_rate_at_no_post_made_yet() -> None:
    created, reach, decay, removed = _posts(1, 50, 3)
    assert view_rate_at(-1.0, np.arange(50), created, reach, decay, removed) == 0.0
    assert view_rate_at(10.0, np.arange(0), created, reach, decay, removed) == 0.0
