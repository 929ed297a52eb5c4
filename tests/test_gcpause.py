"""The cyclic garbage collector is paused while a run allocates, and restored after."""

from __future__ import annotations

import gc
import weakref

import pandas as pd
import pytest

from simulator.api import simulate
from simulator.config import PlatformPolicy, Scenario
from simulator.gcpause import collect_young, cyclic_gc_paused


class _Node:
    """An object that can be in a reference cycle and be watched by a weak reference."""

    def __init__(self) -> None:
        self.other: object = self


def test_a_run_pauses_the_collector_and_frees_its_cycles_chunk_by_chunk(
    quick_sampled: Scenario, jury_only: PlatformPolicy
) -> None:
    assert gc.isenabled()
    seen: list[tuple[bool, bool]] = []  # (collector enabled, the first chunk's cycle alive)
    watch: list[weakref.ref[_Node]] = []

    def sink(rows: pd.DataFrame) -> None:
        if not watch:  # garbage in a cycle, made while the run is under way
            watch.append(weakref.ref(_Node()))
        seen.append((gc.isenabled(), watch[0]() is not None))

    simulate(quick_sampled, jury_only, seed=1, sink=sink, chunk_days=1)
    assert len(seen) >= 3
    assert not any(enabled for enabled, _ in seen)  # paused throughout the run
    assert not seen[-1][1]  # freed during the run, not left for after it
    assert gc.isenabled()  # and the collector's usual schedule is back


def test_the_collector_is_back_after_a_run_that_fails(
    quick_sampled: Scenario, jury_only: PlatformPolicy
) -> None:
    def sink(rows: pd.DataFrame) -> None:
        raise RuntimeError("the sink broke")

    with pytest.raises(RuntimeError, match="the sink broke"):
        simulate(quick_sampled, jury_only, seed=1, sink=sink)
    assert gc.isenabled()


def test_a_pause_inside_a_pause_leaves_the_collector_paused() -> None:
    with cyclic_gc_paused():
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still holds it
    assert gc.isenabled()


def test_collect_young_frees_a_cycle_made_since_the_last_collection() -> None:
    with cyclic_gc_paused():
        ref = weakref.ref(_Node())
        assert ref() is not None  # a cycle: reference counting cannot free it
        collect_young()
        assert ref() is None
