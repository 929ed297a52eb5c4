"""Seeds come from stable identity, never from order of use."""

from __future__ import annotations

import pytest

from simulator.seeding import SeedTree


def test_streams_depend_on_path_not_on_order() -> None:
    t = SeedTree(9)
    first = t.rng("stream", 4).random(3)
    t.rng("jury").random(100)  # other components drawing must change nothing
    again = SeedTree(9).rng("stream", 4).random(3)
    assert (first == again).all()
    assert (SeedTree(9).rng("stream", 5).random(3) != first).all()
    assert (SeedTree(10).rng("stream", 4).random(3) != first).all()


def test_child_trees_differ_and_are_stable() -> None:
    assert SeedTree(1).child("rep", 0).seed == SeedTree(1).child("rep", 0).seed
    assert SeedTree(1).child("rep", 0).seed != SeedTree(1).child("rep", 1).seed


def test_negative_seed_rejected() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        SeedTree(-1)
