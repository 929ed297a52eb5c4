"""The only place that builds ``numpy.random.SeedSequence`` objects.

Every random draw in a run flows from one integer seed. Child sequences are
derived from *stable identity* -- a component name and integer indices such as
a day number -- never from run order or worker identity, so:

* each component (stream, classifier, each stage, each enforcer) has its own
  sub-stream, and one extra draw in one component shifts nothing elsewhere;
* every policy run on the same scenario and seed sees the same post stream
  (common random numbers), because the stream's seeds do not depend on the
  policy;
* results do not depend on how work is split across chunks or processes.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _key(part: str | int) -> int:
    """A stable 32-bit integer for a name or a non-negative integer index."""
    if isinstance(part, int):
        if part < 0:
            raise ValueError(f"seed path indices must be non-negative, got {part}")
        return part
    digest = hashlib.blake2b(part.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "little")


class SeedTree:
    """Derives independent, reproducible random streams from one root seed.

    >>> tree = SeedTree(42)
    >>> a = tree.rng("stream", 3).random()
    >>> b = SeedTree(42).rng("stream", 3).random()
    >>> a == b
    True
    """

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self._seed = int(seed)

    @property
    def seed(self) -> int:
        return self._seed

    def sequence(self, *path: str | int) -> np.random.SeedSequence:
        """The SeedSequence for a component path such as ``("stream", day)``."""
        return np.random.SeedSequence(entropy=self._seed, spawn_key=tuple(_key(p) for p in path))

    def rng(self, *path: str | int) -> np.random.Generator:
        """A fresh PCG64 generator for a component path."""
        return np.random.Generator(np.random.PCG64(self.sequence(*path)))

    def child(self, *path: str | int) -> SeedTree:
        """A tree whose root is derived from this one (for replications)."""
        state = self.sequence(*path).generate_state(2, dtype=np.uint32)
        return SeedTree(int(state[0]) << 32 | int(state[1]))
