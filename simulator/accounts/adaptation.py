"""Adaptive evasion: authors whose posts are removed word their later violating posts
past the prefilter.

Each removal of one of a person's posts (by any channel; a restoration on
appeal takes it back) teaches the person: the logit of the prefilter's score on
the person's later violating posts is lowered by ``score_shift_per_removal``
per removal, at most ``max_shift`` in all. Only a ``share`` of persons adapt
(one keyed uniform per person, so the same persons under every policy); a
person who comes back from a ban under a new account keeps what they learned.

What a person has learned is read as it stood at the start of the day a post
is made (a day's posts are drawn when it begins, as for suspensions and
bans): removals and restorations before that moment count, so the shift is
the same whatever the chunk size or the slices a day comes in.

The shift moves the score on the logit scale, ``s' = expit(logit(s) - shift)``,
in both modes: in scale mode ``s`` is the draw from the class's measured score
distribution (the post would have scored ``s`` worded plainly), in text mode
the classifier's score on the post's generated text. The post stays what it
is (its class, its reach); only what the prefilter sees of it changes.

The run also counts, per number of removals its author had learned from
(0, 1, 2, 3 or more), the violating posts the prefilter saw and those it
caught (removed or sent to review): the prefilter's recall on adapted authors
against the others.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from simulator.config.accounts import Adaptation
from simulator.seeding import SeedTree
from simulator.stages.appeals import KeyedDraws

BINS = 4
"""Recall is counted by removals learned from: 0, 1, 2, and ``BINS - 1`` or more."""
_EDGE = 1e-12


def shifted(score: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Scores lowered by ``shift`` on the logit scale (0: unchanged, exactly)."""
    out = np.array(score, dtype=np.float64, copy=True)
    go = shift > 0
    if go.any():
        s = np.clip(out[go], _EDGE, 1.0 - _EDGE)
        # a score of exactly 0 stays 0 (clipped away from it, it would rise)
        out[go] = np.minimum(special.expit(special.logit(s) - shift[go]), out[go])
    return out


class Learning:
    """What each person learned from removals (entry points: :meth:`removed`,
    :meth:`learned`, :meth:`shift`, :meth:`tally`)."""

    def __init__(self, cfg: Adaptation, persons: int, seeds: SeedTree) -> None:
        self.cfg = cfg
        self._removals = np.zeros(persons, dtype=np.int32)
        self._share = cfg.share if cfg.enabled else 0.0
        self._keyed = KeyedDraws(seeds, "accounts", "adaptation")  # who adapts: by person
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        # Recall counts of the days before the latest, and that day's posts one by
        # one (bin, caught, created): a run cut short by a takedown counts only the
        # posts made before it.
        self._seen = np.zeros(BINS, dtype=np.int64)
        self._caught = np.zeros(BINS, dtype=np.int64)
        self._day = -1
        self._today: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def removed(self, persons: np.ndarray, times: np.ndarray, sign: int) -> None:
        """Posts of ``persons`` removed (``sign`` +1) or restored (-1) at ``times``."""
        if len(persons):
            step = np.full(len(persons), sign, dtype=np.int32)
            self._pending.append(
                (np.asarray(times, np.float64), np.asarray(persons, np.int64), step)
            )

    def _catch_up(self, t: float) -> None:
        """Count the removals and restorations before ``t``."""
        if not self._pending:
            return
        times, persons, steps = (np.concatenate(c) for c in zip(*self._pending, strict=True))
        due = times < t
        np.add.at(self._removals, persons[due], steps[due])
        self._pending = [(times[~due], persons[~due], steps[~due])] if (~due).any() else []

    def learned(self, persons: np.ndarray, day: int) -> np.ndarray:
        """Removals each person had learned from by the start of ``day``."""
        self._catch_up(24.0 * day)
        return np.maximum(self._removals[persons], 0)

    def shift(self, persons: np.ndarray, day: int) -> np.ndarray:
        """The logit shift on violating posts ``persons`` make on ``day``."""
        n = self.learned(persons, day).astype(np.float64)
        cfg = self.cfg
        out = np.minimum(cfg.score_shift_per_removal * n, cfg.max_shift)
        return np.where(self._keyed.uniforms(persons) < self._share, out, 0.0)

    def tally(self, persons: np.ndarray, day: int, caught: np.ndarray, created: np.ndarray) -> None:
        """The prefilter saw violating posts of ``persons`` made at ``created`` on
        ``day`` and caught some."""
        if day != self._day:
            self._fold()
            self._day = day
        k = np.minimum(self.learned(persons, day), BINS - 1)
        self._today.append((k, np.asarray(caught, dtype=bool), np.asarray(created)))

    def _fold(self) -> None:
        """Add the latest day's posts to the counts of the days before."""
        self._seen, self._caught = self.recall_counts(np.inf)
        self._today = []

    def recall_counts(self, end: float) -> tuple[np.ndarray, np.ndarray]:
        """Violating posts made before ``end`` that the prefilter saw, and those it
        caught, by removals learned from (0, 1, 2, 3 or more)."""
        seen, caught = self._seen.copy(), self._caught.copy()
        for k, hit, created in self._today:
            made = created < end
            seen += np.bincount(k[made], minlength=BINS)
            caught += np.bincount(k[made & hit], minlength=BINS)
        return seen, caught
