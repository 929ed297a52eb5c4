"""Authors who learn from removals (``accounts.adaptation``) under a prefilter with a
card per policy area (``prefilter.areas``): every area's card sees their shifted
scores, as the single model does."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import ACCOUNTS_POPULATION, tweak
from test_areas import per_area, small

from simulator.api import simulate
from simulator.config import Scenario

ADAPT = {"score_shift_per_removal": 1.0, "max_shift": 3.0}
# authors are followed and warned, never blocked: the same posts are made either way
WARN_ONLY = {"enabled": True, "ladder": [{"strikes": 1, "action": "warn"}]}


@pytest.fixture(scope="module")
def world() -> Scenario:
    return tweak(small(days=4), accounts=ACCOUNTS_POPULATION)


def run(world: Scenario, seed: int) -> tuple[dict[str, Any], pd.DataFrame]:
    parts: list[pd.DataFrame] = []
    result = simulate(world, per_area(accounts=WARN_ONLY), seed=seed, sink=parts.append)
    return result.summary, pd.concat(parts).set_index("post_id").sort_index()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adapted_authors_get_past_every_areas_card(world: Scenario, seed: int) -> None:
    adapting = tweak(world, accounts={**ACCOUNTS_POPULATION, "adaptation": ADAPT})
    on, posts_on = run(adapting, seed)
    off, posts_off = run(world, seed)
    # recall on authors removed three times or more falls well below the others'
    bins = on["adaptation"]["prefilter_recall_by_removals"]
    (n0, c0), (n3, c3) = ((bins[k]["posts"], bins[k]["caught"]) for k in ("0", "3+"))
    assert n0 > 100 and n3 > 100
    assert c3 / n3 < 0.6 * c0 / n0
    # without adaptation the same authors are caught as often as the others
    bins = off["adaptation"]["prefilter_recall_by_removals"]
    (n0, c0), (n3, c3) = ((bins[k]["posts"], bins[k]["caught"]) for k in ("0", "3+"))
    p = (c0 + c3) / (n0 + n3)
    assert abs(c3 / n3 - c0 / n0) < 4 * math.sqrt(p * (1 - p) * (1 / n0 + 1 / n3))
    # Post by post: a shift only lowers scores, so each area's cards catch a subset
    # of the posts they caught without it, and fewer of the most screened area's.
    tax = world.taxonomy
    assert posts_on.index.equals(posts_off.index)
    viol = posts_on["violating"].to_numpy(dtype=bool)

    def caught(posts: pd.DataFrame) -> np.ndarray:
        by_card = posts["flagged_at"].notna() | (posts["removed_by"].astype(str) == "prefilter")
        return by_card.to_numpy() & viol

    hit_on, hit_off = caught(posts_on), caught(posts_off)
    assert not (hit_on & ~hit_off).any()
    area = tax.area_of[[tax.index[c] for c in posts_on["cls"].astype(str)]]
    for name in per_area().prefilter.areas or {}:
        mine = area == tax.area_index(name)
        assert hit_on[mine].sum() <= hit_off[mine].sum()
    spam = area == tax.area_index("spam")
    n = hit_off[spam].sum()
    assert n > 100
    assert hit_on[spam].sum() < 0.95 * n  # about 15% fewer in these seeds
