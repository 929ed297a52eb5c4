"""Replaying a platform's own post log (CSV, TSV or Parquet) as a scenario's stream.

A :class:`ReplayStream` offers what the engine asks of any stream --
``generate_day(day, first_id)``, ``hourly_rate`` and ``days`` -- from a file
read in chunks (:mod:`simulator.stream.postlog` reads and checks it), so a log
of millions of rows replays with flat memory, like the synthetic stream:

1. **Scan** (once, at construction): every chunk is parsed and checked; bad
   rows are refused (``on_bad_rows: error``) with the file, the data-row
   numbers and the column, or left out and counted (``skip``). The scan keeps
   aggregates -- posts per hour, the last row of each day, label counts, a
   capped sample of labelled texts -- and a 64-bit key per row, to find the
   posts a log holds twice (refused, or scanned again without the copies).
2. **Replay**: the file is read again, sequentially; a day's posts are handed
   out once the reader has passed that day's last row. A time-ordered log
   therefore holds about one day in memory; a shuffled one holds more, but
   replays the same.

What the log does not hold comes from the scenario and the run's seed, each
from its own stable key so one extra draw shifts nothing else:

* lifetime reach: the ``views`` column, else ``followers x views_per_follower``,
  else drawn from the scenario's reach model (``("replay-reach", day)``);
* the class of an unlabelled post: estimated with a classifier trained on the
  labelled part of the log (or, with too few labels, on the synthetic corpus;
  refused for a scenario with its own areas, which that corpus does not know),
  its score corrected to the log's labelled prevalence, then drawn
  (``("replay-labels", day)``): whether it violates from its text, its class
  (and so its area) from the labelled posts' class mix on that side. Such posts
  are marked ``labelled=False`` so metrics can tell measured figures from
  estimated ones;
* ``score_u`` for scale mode (``("replay-score", day)``).

A day's posts are presented in the order of the ``post_id`` column when one is
mapped (else creation time, then file order), so replaying modsim's own
``posts.parquet`` reproduces the synthetic run exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from simulator.config.common import per_class
from simulator.config.scenario import Scenario
from simulator.errors import DataFileError
from simulator.seeding import SeedTree
from simulator.stream.postlog import (
    MAX_ROWS_SHOWN,
    LogChunk,
    LogParser,
    LogReader,
    LogRows,
)
from simulator.stream.synthetic import LN2, Posts, SyntheticStream
from simulator.taxonomy import DEFAULT

if TYPE_CHECKING:
    from simulator.classifier import TrainedClassifier

_MIN_LABELLED_PER_SIDE = 10


class PostStream(Protocol):
    """What the engine needs of a stream of posts."""

    @property
    def hourly_rate(self) -> np.ndarray: ...

    @property
    def days(self) -> int: ...

    def generate_day(self, day: int, first_id: int) -> Posts: ...


def open_stream(scenario: Scenario, seeds: SeedTree, with_text: bool) -> PostStream:
    """The scenario's stream: replayed from its log file, or generated."""
    if scenario.stream.is_file:
        return ReplayStream(scenario, seeds, with_text=with_text)
    return SyntheticStream(scenario, seeds, with_text=with_text)


# --- the stream -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Imputer:
    """Estimates the class of unlabelled posts: P(violating) from a classifier, corrected
    to the log's prevalence, then a class drawn from the labelled class mix of that side."""

    classifier: TrainedClassifier
    train_prevalence: float
    target_prevalence: float
    mix_violating: np.ndarray
    mix_legitimate: np.ndarray

    def classes(self, texts: list[str], rng: np.random.Generator) -> np.ndarray:
        p = self.classifier.score(texts)
        r, pi = self.train_prevalence, self.target_prevalence
        if 0 < r < 1 and 0 < pi < 1 and not math.isclose(r, pi):
            # Bayes' prior shift: the classifier learnt the training sample's prevalence.
            odds = p / np.maximum(1 - p, 1e-12) * (pi / (1 - pi)) / (r / (1 - r))
            p = odds / (1 + odds)
        violating = rng.random(len(p)) < p
        u = rng.random(len(p))
        v_cls = np.searchsorted(np.cumsum(self.mix_violating), u * self.mix_violating.sum())
        l_cls = np.searchsorted(np.cumsum(self.mix_legitimate), u * self.mix_legitimate.sum())
        return np.where(violating, v_cls, l_cls).astype(np.int8)


@lru_cache(maxsize=4)
def _corpus_classifier(seed: int, languages: tuple[tuple[str, float], ...]) -> TrainedClassifier:
    """Trained once per seed and language mix: every policy replaying a log sees one model."""
    from simulator.classifier import train_synthetic

    rng = SeedTree(seed).rng("replay-classifier")
    return train_synthetic(rng, n_per_class=2000, languages=dict(languages))


class ReplayStream:
    """A scenario's posts, replayed day by day from its post log (see the module doc)."""

    def __init__(self, scenario: Scenario, seeds: SeedTree, with_text: bool = True) -> None:
        cfg = scenario.stream
        if not cfg.is_file:
            raise ValueError("ReplayStream needs a scenario with `stream.source: file`")
        self._scenario = scenario
        self._seeds = seeds
        self._with_text = with_text
        self._reader = LogReader(cfg)
        self._parser = LogParser(scenario, self._reader.path)
        self._repeats = np.empty(0, dtype=np.int64)
        self._leave_out_repeats(*self._scan())
        self._imputer = self._make_imputer() if self._unlabelled else None
        # A post's author, by post id, for the days replayed (4 bytes a post).
        self._author_days: dict[int, np.ndarray] = {}  # first post id -> the day's authors
        self._chunks: Iterator[LogChunk] = iter(())
        self._pending: dict[int, list[LogRows]] = {}
        self._read_upto = 0
        self._served = -1
        self._rewind()

    # What the engine asks -------------------------------------------------------------
    @property
    def hourly_rate(self) -> np.ndarray:
        """Posts in the log in each simulated hour (those a suspension prevents)."""
        return self._per_hour

    @property
    def days(self) -> int:
        return self._scenario.days

    @property
    def partial_labels(self) -> bool:
        """Whether some posts' classes are estimates rather than ground truth."""
        return self._unlabelled > 0

    @property
    def meta(self) -> dict[str, Any]:
        """What the replay read, skipped and estimated, for the run's summary."""
        return {"replay": dict(self._meta)}

    def generate_day(self, day: int, first_id: int) -> Posts:
        """The log's posts created on simulated day ``day``; ids start at ``first_id``."""
        if day <= self._served:
            self._rewind()  # asked again (or out of order): read from the top
        self._served = day
        last = int(self._last_row[day])
        while self._read_upto < last:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._read_upto = int(chunk.rows[-1]) if len(chunk.rows) else self._read_upto
            rows = self._parse(chunk)[0]
            rows_day = (rows.created // 24).astype(np.int64)
            for d in np.unique(rows_day[rows_day >= day]).tolist():
                self._pending.setdefault(d, []).append(rows.take(rows_day == d))
        parts = self._pending.pop(day, [])
        return self._posts(LogRows.concat(parts) if parts else None, day, first_id)

    @property
    def persons(self) -> int:
        """Distinct authors in the log (0 without an author column)."""
        return len(self._authors)

    def authors_of(self, post_ids: np.ndarray) -> np.ndarray:
        """The author (an index into the log's distinct authors, in sorted order) of
        each post of the days replayed so far."""
        firsts = np.array(sorted(self._author_days), dtype=np.int64)
        ids = np.asarray(post_ids, dtype=np.int64)
        out = np.full(len(ids), -1, dtype=np.int64)
        if len(firsts) == 0 or len(ids) == 0:
            return out
        day = np.searchsorted(firsts, ids, side="right") - 1
        for k in np.unique(day[day >= 0]).tolist():
            first = int(firsts[k])
            codes = self._author_days[first]
            mine = np.flatnonzero(day == k)
            at = ids[mine] - first
            ok = at < len(codes)
            out[mine[ok]] = codes[at[ok]]
        if (out < 0).any():
            raise ValueError("authors asked for posts not replayed yet")
        return out

    def author_names(self, persons: np.ndarray) -> np.ndarray:
        """Each author's name as the log's author column gives it."""
        return np.asarray(self._authors.to_numpy()[persons], dtype=object)

    # Scan ---------------------------------------------------------------------------
    def _parse(self, chunk: LogChunk) -> tuple[LogRows, dict[str, np.ndarray], int]:
        """:meth:`LogParser.parse`, leaving out the rows that repeat an earlier one."""
        rows, bad, outside = self._parser.parse(chunk)
        if self._repeats.size:
            rows = rows.take(~np.isin(rows.row, self._repeats))
        return rows, bad, outside

    def _leave_out_repeats(self, key: np.ndarray, row: np.ndarray) -> None:
        """Refuse a log that holds a post twice (equal ``key``, see
        :meth:`LogParser.repeat_keys`) or, with ``on_bad_rows: skip``, scan it again
        without the later copies."""
        order = np.lexsort((row, key))
        key, row = key[order], row[order]
        starts = np.r_[True, key[1:] != key[:-1]]
        again = np.flatnonzero(~starts)
        if again.size == 0:
            return
        first = row[np.maximum.accumulate(np.where(starts, np.arange(key.size), 0))][again]
        by_row = np.argsort(row[again], kind="stable")
        repeats, firsts = row[again][by_row], first[by_row]
        if self._scenario.stream.on_bad_rows == "error":
            raise DataFileError(
                self._parser.describe_repeats(repeats, firsts)
                + "; fix the log or set stream.on_bad_rows: skip (keeps the first)"
            )
        self._repeats = repeats
        self._scan()

    def _scan(self) -> tuple[np.ndarray, np.ndarray]:
        """Check every row and keep aggregates (see the module doc); return each used row's
        repeat key and data-row number (on the first scan only)."""
        sc, cfg = self._scenario, self._scenario.stream
        hours = int(sc.hours)
        per_hour = np.zeros(hours)
        last_row = np.zeros(sc.days, dtype=np.int64)
        tax = sc.taxonomy
        labelled = np.zeros(tax.n_classes, dtype=np.int64)
        unlabelled = 0
        rows_read = outside = 0
        skipped: dict[str, int] = {}
        skipped_rows: dict[str, list[int]] = {}
        sample: dict[bool, list[str]] = {True: [], False: []}
        t_min, t_max = math.inf, -math.inf
        authors: set[str] = set()
        with_authors = cfg.names_authors
        keys: list[np.ndarray] = []
        key_rows: list[np.ndarray] = []
        for chunk in self._reader.chunks():
            rows_read += len(chunk.rows)
            rows, bad, out = self._parse(chunk)
            for column, bad_rows in bad.items():
                if cfg.on_bad_rows == "error":
                    raise DataFileError(
                        self._parser.describe(column, bad_rows)
                        + "; fix the log or set stream.on_bad_rows: skip"
                    )
                skipped[column] = skipped.get(column, 0) + len(bad_rows)
                shown = skipped_rows.setdefault(column, [])
                shown.extend(bad_rows[: MAX_ROWS_SHOWN - len(shown)].tolist())
            outside += out
            if len(rows) == 0:
                continue
            if not self._repeats.size:
                keys.append(self._parser.repeat_keys(rows))
                key_rows.append(rows.row)
            if with_authors:
                authors.update(rows.author.tolist())
            t_min, t_max = min(t_min, rows.created.min()), max(t_max, rows.created.max())
            per_hour += np.bincount(rows.created.astype(np.int64), minlength=hours)[:hours]
            day = (rows.created // 24).astype(np.int64)
            np.maximum.at(last_row, day, rows.row)
            known = rows.code >= 0
            labelled += np.bincount(rows.code[known], minlength=tax.n_classes)
            unlabelled += int((~known).sum())
            for side in (True, False):
                room = cfg.training_rows - len(sample[side])
                if room > 0:
                    pick = known & (tax.violating[np.maximum(rows.code, 0)] == side)
                    sample[side].extend(rows.text[pick][:room].tolist())
        malformed = getattr(self._reader, "malformed", [])
        if malformed:
            skipped["(malformed row)"] = len(malformed)
            skipped_rows["(malformed row)"] = sorted(malformed)[:MAX_ROWS_SHOWN]
        if self._repeats.size:
            by_id = cfg.columns is not None and cfg.columns.post_id is not None
            name = "post_id" if by_id else "(repeated row)"
            skipped[name] = len(self._repeats)
            skipped_rows[name] = self._repeats[:MAX_ROWS_SHOWN].tolist()
        used = int(per_hour.sum())
        if rows_read == 0:
            raise DataFileError(f"{self._reader.path}: no data rows (only a header)")
        if used == 0:
            first, last = sc.local_time(0), sc.local_time(sc.hours)
            raise DataFileError(
                f"{self._reader.path}: none of the {rows_read:,} rows falls inside the scenario "
                f"period ({first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} {sc.timezone}); "
                "check start, days, stream.timestamps and stream.time_zone"
            )
        self._per_hour = per_hour
        self._last_row = last_row
        self._authors = pd.Index(sorted(authors), dtype=object)
        self._labelled = labelled
        self._unlabelled = unlabelled
        self._sample = sample
        self._meta: dict[str, Any] = {
            "file": str(self._reader.path),
            "format": self._reader.format,
            "rows_read": rows_read,
            "rows_used": used,
            "rows_outside_period": outside,
            "rows_skipped": sum(skipped.values()),
            "skipped_by_column": skipped,
            "skipped_rows_first": skipped_rows,
            "labelled_posts": int(labelled.sum()),
            "unlabelled_posts": unlabelled,
            "labelled_by_class": {c: int(labelled[i]) for i, c in enumerate(tax.classes)},
        }
        if not keys:
            return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
        return np.concatenate(keys), np.concatenate(key_rows)

    # Estimating unlabelled classes ------------------------------------------------------
    def _make_imputer(self) -> _Imputer:
        from simulator.classifier import build_pipeline
        from simulator.classifier.training import TrainedClassifier

        sc = self._scenario
        n_v, n_l = len(self._sample[True]), len(self._sample[False])
        tax = sc.taxonomy
        labelled_v = int(self._labelled[tax.violating].sum())
        labelled_total = int(self._labelled.sum())
        rng = self._seeds.rng("replay-classifier")
        if min(n_v, n_l) >= _MIN_LABELLED_PER_SIDE:
            texts = self._sample[True] + self._sample[False]
            y = np.r_[np.ones(n_v, dtype=bool), np.zeros(n_l, dtype=bool)]
            pipeline = build_pipeline(int(rng.integers(0, 2**31 - 1)))
            pipeline.fit(texts, y)
            clf = TrainedClassifier(pipeline, pd.DataFrame())
            source, train_prev = (
                f"labelled posts in the log ({n_v} violating, {n_l} not)",
                n_v / (n_v + n_l),
            )
        elif not tax.is_default:
            raise DataFileError(
                f"{self._reader.path}: {self._unlabelled:,} posts have no label, and too few "
                f"are labelled to learn their classes from ({n_v} violating, {n_l} not; "
                f"{_MIN_LABELLED_PER_SIDE} of each needed). The synthetic corpus that stands "
                "in otherwise knows only the default classes (violence), not the scenario's "
                "areas: label more posts, or leave the unlabelled ones out of the log"
            )
        else:
            texts_cfg = sc.content.texts
            clf = _corpus_classifier(self._seeds.seed, tuple(sorted(texts_cfg.languages.items())))
            source, train_prev = (
                "the synthetic corpus (too few labelled posts)",
                float(DEFAULT.violating.mean()),  # the corpus's classes
            )
        shares = (
            np.asarray(per_class(sc.content.class_shares, sc.taxonomy))
            if sc.content.class_shares is not None
            else np.ones(tax.n_classes)
        )
        if labelled_total and 0 < labelled_v < labelled_total:
            target = labelled_v / labelled_total
        elif sc.content.class_shares is not None:
            target = float(shares[tax.violating].sum() / shares.sum())
        else:
            target = train_prev  # nothing better known: no correction
        mixes = []
        for side in (tax.violating, ~tax.violating):
            counts = np.where(side, self._labelled, 0).astype(np.float64)
            if counts.sum() == 0:
                counts = np.where(side, shares, 0.0)
            mixes.append(counts)
        self._meta["estimated_with"] = {
            "classifier_trained_on": source,
            "violating_prevalence_assumed": round(target, 6),
        }
        return _Imputer(clf, train_prev, target, mixes[0], mixes[1])

    # Replay ---------------------------------------------------------------------------
    def _rewind(self) -> None:
        self._chunks = self._reader.chunks()
        self._pending = {}
        self._read_upto = 0
        self._served = -1

    def _posts(self, rows: LogRows | None, day: int, first_id: int) -> Posts:
        if rows is None or len(rows.row) == 0:
            return Posts(
                np.empty(0, dtype=np.int64),
                np.empty(0),
                np.empty(0, dtype=np.int8),
                np.empty(0),
                np.empty(0),
                np.empty(0),
                [] if self._with_text else None,
                np.empty(0, dtype=bool),
            )
        key = rows.order if self._scenario.stream.columns.post_id else rows.created  # type: ignore[union-attr]
        rows = rows.take(np.lexsort((rows.row, key)))
        n = len(rows.row)
        cls = rows.code.copy()
        labelled = cls >= 0
        texts = rows.text.tolist()
        if not labelled.all():
            assert self._imputer is not None
            unknown = np.flatnonzero(~labelled)
            cls[unknown] = self._imputer.classes(
                [texts[i] for i in unknown], self._seeds.rng("replay-labels", day)
            )
        reach_cfg = self._scenario.reach
        median = np.asarray(per_class(reach_cfg.median_views, self._scenario.taxonomy))[cls]
        drawn = median * np.exp(
            reach_cfg.sigma * self._seeds.rng("replay-reach", day).standard_normal(n)
        )
        per_follower = self._scenario.stream.views_per_follower
        if per_follower is not None:
            drawn = np.where(np.isfinite(rows.followers), rows.followers * per_follower, drawn)
        reach = np.where(np.isfinite(rows.views), rows.views, drawn)
        decay = np.full(n, LN2 / reach_cfg.half_life_hours)
        score_u = self._seeds.rng("replay-score", day).random(n)
        ids = np.arange(first_id, first_id + n, dtype=np.int64)
        if len(self._authors):
            self._author_days[first_id] = self._authors.get_indexer(rows.author).astype(np.int32)
        return Posts(
            ids,
            rows.created,
            cls,
            reach,
            decay,
            score_u,
            texts if self._with_text else None,
            labelled,
        )
