"""Replaying a post log under a scenario that declares its own policy areas: labels
mapped to the declared classes, figures by area, unlabelled posts estimated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_areas import per_area, small

from simulator.api import simulate
from simulator.config import Scenario
from simulator.errors import DataFileError

LABEL = {"terrorist_content": "tco", "spam": "junk"}  # the log's own words for two classes


@pytest.fixture(scope="module")
def world() -> Scenario:
    return small(days=2)


@pytest.fixture(scope="module")
def posts(world: Scenario) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    simulate(world, per_area(), seed=3, table="all", sink=frames.append)
    out = pd.concat(frames, ignore_index=True)
    out["cls"] = out["cls"].astype(str)
    return out


def write_log(path: Path, posts: pd.DataFrame, labels: pd.Series) -> Path:
    # a post's text names its class: a classifier trained on the labelled part can
    # tell violating posts apart
    words = posts["cls"].str.replace("_", " ") + " post " + (posts.index % 97).astype(str)
    log = pd.DataFrame(
        {"at": posts["created_at"], "body": words, "tag": labels, "seen": posts["reach"]}
    )
    log.to_csv(path, index=False)
    return path


def replay_of(world: Scenario, path: Path) -> Scenario:
    data: dict[str, Any] = world.model_dump(mode="json")
    profile = data.pop("population")["hourly_profile"]
    data.pop("surges", None)
    data["stream"] = {
        "source": "file",
        "path": str(path),
        "timestamps": "hours",
        "hourly_profile": profile,
        "columns": {"created_at": "at", "text": "body", "label": "tag", "views": "seen"},
        "labels": {word: cls for cls, word in LABEL.items()},
    }
    return Scenario.model_validate(data)


def by_area(world: Scenario, classes: pd.Series) -> dict[str, int]:
    tax = world.taxonomy
    area = tax.area_of[[tax.index[c] for c in classes]]
    return {a.name: int((area == i).sum()) for i, a in enumerate(tax.areas)}


def test_a_replayed_log_is_counted_by_the_declared_areas_of_its_labels(
    world: Scenario, posts: pd.DataFrame, tmp_path: Path
) -> None:
    path = write_log(tmp_path / "log.csv", posts, posts["cls"].replace(LABEL))
    result = simulate(replay_of(world, path), per_area(), seed=3)
    areas = result.summary["areas"]
    assert {name: a["count"] for name, a in areas.items()} == by_area(world, posts["cls"])
    assert areas["terrorism"]["count"] > 0 and areas["spam"]["count"] > 0
    for a in areas.values():
        assert sum(a["removed_by"].values()) == a["removed"] == a["count"] - a["never_removed"]
    assert sum(a["count"] for a in areas.values()) == result.summary["violating"]["count"]
    assert result.summary["replay"]["labels"] == "all"
    # the per-area cards' targets are met on the scenario's class shares, the mix the
    # log is expected to have: here the synthetic world's own (it has no surges)
    synthetic = simulate(world, per_area(), seed=3).summary["classifier"]["areas"]
    replayed = result.summary["classifier"]["areas"]
    for name, screen in synthetic.items():
        for mine, theirs in zip(replayed[name]["thresholds"], screen["thresholds"], strict=True):
            assert mine["score"] == pytest.approx(theirs["score"], rel=1e-9)


@pytest.mark.parametrize("seed", [1, 2])
def test_unlabelled_posts_of_a_replay_are_estimated_into_the_declared_areas(
    world: Scenario, posts: pd.DataFrame, tmp_path: Path, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    blank = rng.random(len(posts)) < 0.5
    labels = posts["cls"].replace(LABEL).mask(blank)
    path = write_log(tmp_path / "log.csv", posts, labels)
    result = simulate(replay_of(world, path), per_area(), seed=seed)
    summary = result.summary
    assert summary["replay"]["labels"] == "partial"
    areas = summary["areas"]
    assert sum(a["count"] for a in areas.values()) == summary["violating"]["count"]
    # Whether an unlabelled post violates comes from its text (here it says so); its
    # area is drawn from the labelled violating posts' mix: each area's count is its
    # labelled posts plus a binomial share of the unlabelled violating ones.
    truth = by_area(world, posts["cls"])
    known = by_area(world, posts["cls"][~blank])
    unknown = sum(truth.values()) - sum(known.values())
    assert abs(sum(a["count"] for a in areas.values()) - sum(truth.values())) <= max(
        5, 0.05 * unknown
    )
    total_known = sum(known.values())
    for name, a in areas.items():
        p = known[name] / total_known
        expected = known[name] + unknown * p
        assert abs(a["count"] - expected) <= 4 * np.sqrt(unknown * p * (1 - p)) + 0.05 * unknown


def test_too_few_labels_to_learn_the_declared_areas_from_are_refused(
    world: Scenario, posts: pd.DataFrame, tmp_path: Path
) -> None:
    violating = world.taxonomy.violating[[world.taxonomy.index[c] for c in posts["cls"]]]
    keep = np.zeros(len(posts), dtype=bool)
    keep[np.flatnonzero(violating)[:5]] = True  # five violating posts labelled, and many not
    keep[np.flatnonzero(~violating)[:50]] = True
    path = write_log(tmp_path / "log.csv", posts, posts["cls"].replace(LABEL).where(keep))
    with pytest.raises(DataFileError, match=r"too few are labelled.*5 violating, 50 not"):
        simulate(replay_of(world, path), per_area(), seed=1)
