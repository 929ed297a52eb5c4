"""Python's cyclic garbage collector, paused while a run allocates by the million.

A run makes few reference cycles (reference counting frees nearly all it
drops), but it allocates cases, event tuples and per-post rows by the million,
and every burst made the collector scan what is still alive: the cases
waiting in a long review line, the follow-up draws of every post with a case.
In the review queue's event loop that was most of an arrival's cost (3 of
3.7 µs); over a run of the bundled policy search, whose waiting lines are long,
full collections took a quarter of the CPU. So the collector is paused for a
run; :func:`collect_young` (called once per chunk of days) frees the cycles
made since the last call, scanning only the objects made since then, and the
collector's usual schedule resumes when the run ends. Results do not depend on
any of this: only when unreachable cycles are freed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collect_young", "cyclic_gc_paused"]


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause automatic cyclic collection inside the block (nested blocks: no-op)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def collect_young() -> None:
    """Free the unreachable cycles among the objects made since the last collection
    (the two young generations; the survivors move to the old one)."""
    gc.collect(1)
