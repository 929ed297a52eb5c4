"""Replaying a platform's own post log (CSV, TSV or Parquet) as a scenario's stream.

A :class:`ReplayStream` offers what the engine asks of any stream --
``generate_day(day, first_id)``, ``hourly_rate`` and ``days`` -- from a file
read in chunks with pyarrow, so a log of millions of rows replays with flat
memory, like the synthetic stream:

1. **Scan** (once, at construction): every chunk is parsed and checked; bad
   rows are refused (``on_bad_rows: error``) with the file, the data-row
   numbers and the column, or left out and counted (``skip``). The scan keeps
   only aggregates: posts per hour, the last row of each day, label counts,
   and a capped sample of labelled texts.
2. **Replay**: the file is read again, sequentially; a day's posts are handed
   out once the reader has passed that day's last row. A time-ordered log
   therefore holds about one day in memory; a shuffled one holds more, but
   replays the same.

What the log does not hold comes from the scenario and the run's seed, each
from its own stable key so one extra draw shifts nothing else:

* lifetime reach: the ``views`` column, else ``followers x views_per_follower``,
  else drawn from the scenario's reach model (``("replay-reach", day)``);
* the class of an unlabelled post: estimated with a classifier trained on the
  labelled part of the log (or, with too few labels, on the synthetic corpus),
  its score corrected to the log's labelled prevalence, then drawn
  (``("replay-labels", day)``). Such posts are marked ``labelled=False`` so
  metrics can tell measured figures from estimated ones;
* ``score_u`` for scale mode (``("replay-score", day)``).

A day's posts are presented in the order of the ``post_id`` column when one is
mapped (else creation time, then file order), so replaying modsim's own
``posts.parquet`` reproduces the synthetic run exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from simulator.config.scenario import Scenario
from simulator.config.stream import LogColumns, Stream
from simulator.errors import DataFileError
from simulator.seeding import SeedTree
from simulator.stream.synthetic import LN2, Posts, SyntheticStream
from simulator.taxonomy import CLASS_INDEX, CLASSES, N_CLASSES, VIOLATING

if TYPE_CHECKING:
    from simulator.classifier import TrainedClassifier

UNKNOWN = -1
"""Class code of a post whose log row carries no label (before estimation)."""

_MAX_ROWS_SHOWN = 5
_MIN_LABELLED_PER_SIDE = 10
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


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


# --- reading ----------------------------------------------------------------------------


def _rows_text(rows: np.ndarray) -> str:
    """1-based data-row numbers (the header is not a row) for a message."""
    shown = ", ".join(str(int(r)) for r in rows[:_MAX_ROWS_SHOWN])
    more = f" and {len(rows) - _MAX_ROWS_SHOWN} more" if len(rows) > _MAX_ROWS_SHOWN else ""
    return f"data row{'s' if len(rows) > 1 else ''} {shown}{more}"


def _file_format(path: Path, cfg: Stream) -> str:
    if cfg.format != "auto":
        return cfg.format
    suffix = path.suffix.lower()
    formats = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
    if suffix not in formats:
        raise DataFileError(
            f"{path}: cannot tell the format from the suffix {suffix!r}; "
            "use .csv, .tsv or .parquet, or set stream.format"
        )
    return formats[suffix]


@dataclass
class _Chunk:
    """Raw columns of consecutive log rows (role -> pandas Series) and their row numbers."""

    columns: dict[str, pd.Series]
    rows: np.ndarray


class _LogReader:
    """Reads the mapped columns of a log in chunks; every problem is a DataFileError."""

    def __init__(self, cfg: Stream) -> None:
        assert cfg.path is not None and cfg.columns is not None
        self.cfg = cfg
        self.path = Path(cfg.path)
        self.format = _file_format(self.path, cfg)
        mapping: LogColumns = cfg.columns
        self.roles = {role: name for role, name in mapping.model_dump().items() if name is not None}
        if not self.path.is_file():
            raise DataFileError(f"{self.path}: post log not found")
        if self.path.stat().st_size == 0:
            raise DataFileError(f"{self.path}: the file is empty (no header, no rows)")
        found = self._column_names()
        missing = [f"{role} -> {name!r}" for role, name in self.roles.items() if name not in found]
        if missing:
            raise DataFileError(
                f"{self.path}: missing column(s) {', '.join(missing)} (stream.columns); "
                f"columns found: {found[:30]}"
            )

    def _csv_options(
        self, handler: Any = None
    ) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions]:
        encoding = self.cfg.encoding.lower().replace("_", "-")
        read = pacsv.ReadOptions(
            use_threads=False,  # so the bad-row handler sees rows in file order
            block_size=max(1 << 20, self.cfg.chunk_rows * 256),
            encoding="utf8" if encoding in ("utf-8", "utf8") else self.cfg.encoding,
        )
        parse = pacsv.ParseOptions(
            delimiter="\t" if self.format == "tsv" else ",",
            newlines_in_values=True,
            invalid_row_handler=handler,
        )
        names = list(dict.fromkeys(self.roles.values()))
        # Binary, not string: invalid UTF-8 is then ours to locate by row.
        convert = pacsv.ConvertOptions(
            include_columns=names,
            column_types={n: pa.binary() for n in names},
            strings_can_be_null=False,
        )
        return read, parse, convert

    def _column_names(self) -> list[str]:
        try:
            if self.format == "parquet":
                return list(pq.ParquetFile(self.path).schema_arrow.names)
            # Reading the header parses the first block: skip bad rows here, the
            # chunked read reports them with their numbers.
            read, parse, _ = self._csv_options(lambda row: "skip")
            with pacsv.open_csv(self.path, read_options=read, parse_options=parse) as reader:
                return list(reader.schema.names)
        except (pa.ArrowInvalid, OSError, UnicodeDecodeError, LookupError) as exc:
            raise DataFileError(
                f"{self.path}: cannot read as {self.format.upper()}: {exc}"
            ) from None

    def chunks(self) -> Iterator[_Chunk]:
        """The mapped columns, chunk by chunk, each with its 1-based data-row numbers."""
        if self.format == "parquet":
            yield from self._parquet_chunks()
        else:
            yield from self._csv_chunks()

    def _parquet_chunks(self) -> Iterator[_Chunk]:
        names = list(dict.fromkeys(self.roles.values()))
        start = 1
        try:
            for batch in pq.ParquetFile(self.path).iter_batches(
                batch_size=self.cfg.chunk_rows, columns=names
            ):
                frame = batch.to_pandas()
                rows = np.arange(start, start + len(frame), dtype=np.int64)
                start += len(frame)
                yield _Chunk({role: frame[name] for role, name in self.roles.items()}, rows)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataFileError(f"{self.path}: cannot read as PARQUET: {exc}") from None

    def _csv_chunks(self) -> Iterator[_Chunk]:
        malformed: list[int] = []

        def on_invalid(row: Any) -> str:
            # Physical line number; the header is line 1, so data row = line - 1
            # (exact unless a quoted value spans lines before it).
            malformed.append(int(row.number) - 1 if row.number is not None else -1)
            return "skip"

        read, parse, convert = self._csv_options(on_invalid)
        kept = 0
        try:
            with pacsv.open_csv(
                self.path, read_options=read, parse_options=parse, convert_options=convert
            ) as reader:
                for batch in reader:
                    if malformed and self.cfg.on_bad_rows == "error":
                        raise DataFileError(
                            f"{self.path}: {_rows_text(np.asarray(malformed))}: wrong number "
                            f"of fields (expected {len(reader.schema.names)}); fix the quoting "
                            "or set stream.on_bad_rows: skip"
                        )
                    rows = self._row_numbers(kept, batch.num_rows, malformed)
                    kept += batch.num_rows
                    cols = {
                        role: self._decode(batch.column(name), name, rows)
                        for role, name in self.roles.items()
                    }
                    yield _Chunk(cols, rows)
        except (pa.ArrowInvalid, OSError, UnicodeDecodeError, LookupError) as exc:
            raise DataFileError(
                f"{self.path}: cannot read as {self.format.upper()}: {exc}"
            ) from None
        if malformed and self.cfg.on_bad_rows == "error":
            raise DataFileError(
                f"{self.path}: {_rows_text(np.asarray(malformed))}: wrong number of fields; "
                "fix the quoting or set stream.on_bad_rows: skip"
            )
        self.malformed = malformed

    @staticmethod
    def _row_numbers(kept_before: int, n: int, malformed: list[int]) -> np.ndarray:
        """Data-row numbers of ``n`` kept rows, counting the malformed rows skipped."""
        k = np.arange(kept_before, kept_before + n, dtype=np.int64)
        if not malformed:
            return k + 1
        skipped = np.sort(np.asarray(malformed, dtype=np.int64))
        kept_before_skip = skipped - 1 - np.arange(len(skipped))
        return k + 1 + np.searchsorted(kept_before_skip, k, side="right")

    def _decode(self, column: pa.ChunkedArray, name: str, rows: np.ndarray) -> pd.Series:
        try:
            return column.cast(pa.string()).to_pandas()
        except pa.ArrowInvalid:
            values = column.to_pylist()
            bad = []
            for i, v in enumerate(values):
                try:
                    v.decode("utf-8")
                except UnicodeDecodeError:
                    bad.append(rows[i])
            raise DataFileError(
                f"{self.path}: column {name!r} is not valid UTF-8 at "
                f"{_rows_text(np.asarray(bad))}; set stream.encoding (e.g. latin-1 or cp1252)"
            ) from None


# --- parsing ----------------------------------------------------------------------------


@dataclass
class _Rows:
    """Parsed, valid rows inside the scenario period (columns as arrays)."""

    row: np.ndarray
    created: np.ndarray
    code: np.ndarray
    views: np.ndarray
    followers: np.ndarray
    order: np.ndarray
    text: np.ndarray

    def __len__(self) -> int:
        return len(self.row)

    def take(self, idx: np.ndarray) -> _Rows:
        return _Rows(*(getattr(self, f)[idx] for f in _ROW_FIELDS))

    @staticmethod
    def concat(parts: list[_Rows]) -> _Rows:
        return _Rows(*(np.concatenate([getattr(p, f) for p in parts]) for f in _ROW_FIELDS))


_ROW_FIELDS = ("row", "created", "code", "views", "followers", "order", "text")


class _Parser:
    """Turns raw chunks into hours since the start, class codes and numbers; finds bad rows."""

    def __init__(self, scenario: Scenario, path: Path) -> None:
        cfg = scenario.stream
        self.cfg = cfg
        self.path = path
        self.columns = cfg.columns
        self.zone = scenario.timezone
        self.file_zone = cfg.time_zone or scenario.timezone
        self.start = pd.Timestamp(scenario.start.replace(tzinfo=None))
        self.end_hours = scenario.hours
        self.label_codes = {name: CLASS_INDEX[name] for name in CLASSES}
        self.label_codes.update({k: CLASS_INDEX[v] for k, v in cfg.labels.items()})

    def parse(self, chunk: _Chunk) -> tuple[_Rows, dict[str, np.ndarray], int]:
        """Valid rows inside the period, bad rows by column, and rows outside the period."""
        cols, n = chunk.columns, len(chunk.rows)
        bad: dict[str, np.ndarray] = {}
        created = self._hours(cols["created_at"])
        bad["created_at"] = ~np.isfinite(created)
        text = cols["text"]
        bad["text"] = text.isna().to_numpy()
        code = np.full(n, UNKNOWN, dtype=np.int8)
        if "label" in cols:
            code, bad["label"] = self._labels(cols["label"])
        views = self._number(cols.get("views"), n, bad, "views")
        followers = self._number(cols.get("followers"), n, bad, "followers")
        order = np.zeros(n, dtype=np.float64)
        if "post_id" in cols:
            order = pd.to_numeric(cols["post_id"], errors="coerce").to_numpy(dtype=np.float64)
            bad["post_id"] = ~np.isfinite(order)
        any_bad = np.zeros(n, dtype=bool)
        for mask in bad.values():
            any_bad |= mask
        inside = ~any_bad & (created >= 0.0) & (created < self.end_hours)
        outside = int((~any_bad & ~inside).sum())
        rows = _Rows(
            chunk.rows[inside],
            created[inside],
            code[inside],
            views[inside],
            followers[inside],
            order[inside],
            text.to_numpy(dtype=object)[inside],
        )
        return rows, {k: chunk.rows[m] for k, m in bad.items() if m.any()}, outside

    def describe(self, column: str, rows: np.ndarray) -> str:
        what = {
            "created_at": f"missing or unparseable {self.cfg.timestamps} timestamp",
            "text": "missing text",
            "label": "label that is neither a class name nor in stream.labels",
            "views": "views that are not a number >= 0",
            "followers": "follower count that is not a number >= 0",
            "post_id": "missing or non-numeric post id",
        }[column]
        name = getattr(self.columns, column)
        return f"{self.path}: column {name!r}: {what} at {_rows_text(rows)}"

    # The pieces ---------------------------------------------------------------------
    def _number(
        self, values: pd.Series | None, n: int, bad: dict[str, np.ndarray], role: str
    ) -> np.ndarray:
        if values is None:
            return np.full(n, np.nan)
        blank = values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
        number = pd.to_numeric(values.where(~blank), errors="coerce").to_numpy(dtype=np.float64)
        bad[role] = ~blank & ~(np.isfinite(number) & (number >= 0))
        return np.where(bad[role], np.nan, number)  # NaN: filled in by the model

    def _labels(self, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        text = values.astype("string").str.strip()
        blank = (text.isna() | (text == "")).to_numpy(dtype=bool)
        mapped = text.map(self.label_codes, na_action="ignore")
        code = pd.to_numeric(mapped, errors="coerce").to_numpy(dtype=np.float64)
        unknown = ~blank & ~np.isfinite(code)
        return np.where(np.isfinite(code), code, UNKNOWN).astype(np.int8), unknown

    def _hours(self, values: pd.Series) -> np.ndarray:
        kind = self.cfg.timestamps
        if kind == "hours":
            return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        if kind == "unix_seconds":
            secs = pd.to_numeric(values, errors="coerce")
            stamps = pd.to_datetime(secs, unit="s", utc=True, errors="coerce")
            return self._from_aware(pd.Series(stamps))
        if pd.api.types.is_datetime64_any_dtype(values):
            if getattr(values.dt, "tz", None) is not None:
                return self._from_aware(values)
            return self._from_naive(values)
        text = values.astype("string").str.strip()
        aware = text.str.contains(_OFFSET, na=False).to_numpy(dtype=bool)
        out = np.full(len(text), np.nan)
        if aware.any():
            stamps = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
            out[aware] = self._from_aware(pd.Series(stamps))
        if (~aware).any():
            naive = pd.to_datetime(text[~aware], format="ISO8601", errors="coerce")
            out[~aware] = self._from_naive(pd.Series(naive))
        return out

    def _from_naive(self, stamps: pd.Series) -> np.ndarray:
        stamps = pd.Series(pd.to_datetime(stamps, errors="coerce"))
        if self.file_zone != self.zone:
            # Ambiguous wall times (the hour repeated when clocks go back) are read
            # as standard time; times skipped when clocks go forward move forward.
            local = stamps.dt.tz_localize(
                self.file_zone,
                ambiguous=np.zeros(len(stamps), dtype=bool),
                nonexistent="shift_forward",
            )
            return self._from_aware(local)
        return self._since_start(stamps)

    def _from_aware(self, stamps: pd.Series) -> np.ndarray:
        # The scenario's clock is local wall time (its daily rhythm, its dates).
        local = stamps.dt.tz_convert(ZoneInfo(self.zone)).dt.tz_localize(None)
        return self._since_start(local)

    def _since_start(self, naive: pd.Series) -> np.ndarray:
        delta = (naive - self.start).to_numpy(dtype="timedelta64[ns]")
        hours = delta.astype(np.int64) / 3.6e12
        return np.where(np.isnat(delta), np.nan, hours)


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
        self._reader = _LogReader(cfg)
        self._parser = _Parser(scenario, self._reader.path)
        self._scan()
        self._imputer = self._make_imputer() if self._unlabelled else None
        self._chunks: Iterator[_Chunk] = iter(())
        self._pending: dict[int, list[_Rows]] = {}
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
            rows, _, _ = self._parser.parse(chunk)
            rows_day = (rows.created // 24).astype(np.int64)
            for d in np.unique(rows_day[rows_day >= day]).tolist():
                self._pending.setdefault(d, []).append(rows.take(rows_day == d))
        parts = self._pending.pop(day, [])
        return self._posts(_Rows.concat(parts) if parts else None, day, first_id)

    # Scan ---------------------------------------------------------------------------
    def _scan(self) -> None:
        sc, cfg = self._scenario, self._scenario.stream
        hours = int(sc.hours)
        per_hour = np.zeros(hours)
        last_row = np.zeros(sc.days, dtype=np.int64)
        labelled = np.zeros(N_CLASSES, dtype=np.int64)
        unlabelled = 0
        rows_read = outside = 0
        skipped: dict[str, int] = {}
        skipped_rows: dict[str, list[int]] = {}
        sample: dict[bool, list[str]] = {True: [], False: []}
        t_min, t_max = math.inf, -math.inf
        for chunk in self._reader.chunks():
            rows_read += len(chunk.rows)
            rows, bad, out = self._parser.parse(chunk)
            for column, bad_rows in bad.items():
                if cfg.on_bad_rows == "error":
                    raise DataFileError(
                        self._parser.describe(column, bad_rows)
                        + "; fix the log or set stream.on_bad_rows: skip"
                    )
                skipped[column] = skipped.get(column, 0) + len(bad_rows)
                shown = skipped_rows.setdefault(column, [])
                shown.extend(bad_rows[: _MAX_ROWS_SHOWN - len(shown)].tolist())
            outside += out
            if len(rows) == 0:
                continue
            t_min, t_max = min(t_min, rows.created.min()), max(t_max, rows.created.max())
            per_hour += np.bincount(rows.created.astype(np.int64), minlength=hours)[:hours]
            day = (rows.created // 24).astype(np.int64)
            np.maximum.at(last_row, day, rows.row)
            known = rows.code >= 0
            labelled += np.bincount(rows.code[known], minlength=N_CLASSES)
            unlabelled += int((~known).sum())
            for side in (True, False):
                room = cfg.training_rows - len(sample[side])
                if room > 0:
                    pick = known & (VIOLATING[np.maximum(rows.code, 0)] == side)
                    sample[side].extend(rows.text[pick][:room].tolist())
        malformed = getattr(self._reader, "malformed", [])
        if malformed:
            skipped["(malformed row)"] = len(malformed)
            skipped_rows["(malformed row)"] = sorted(malformed)[:_MAX_ROWS_SHOWN]
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
            "labelled_by_class": {c: int(labelled[i]) for i, c in enumerate(CLASSES)},
        }

    # Estimating unlabelled classes ------------------------------------------------------
    def _make_imputer(self) -> _Imputer:
        from simulator.classifier import build_pipeline
        from simulator.classifier.training import TrainedClassifier

        sc = self._scenario
        n_v, n_l = len(self._sample[True]), len(self._sample[False])
        labelled_v = int(self._labelled[VIOLATING].sum())
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
        else:
            texts_cfg = sc.content.texts
            clf = _corpus_classifier(self._seeds.seed, tuple(sorted(texts_cfg.languages.items())))
            source, train_prev = (
                "the synthetic corpus (too few labelled posts)",
                float(VIOLATING.mean()),
            )
        shares = (
            np.asarray(sc.content.class_shares.as_list())
            if sc.content.class_shares is not None
            else np.ones(N_CLASSES)
        )
        if labelled_total and 0 < labelled_v < labelled_total:
            target = labelled_v / labelled_total
        elif sc.content.class_shares is not None:
            target = float(shares[VIOLATING].sum() / shares.sum())
        else:
            target = train_prev  # nothing better known: no correction
        mixes = []
        for side in (VIOLATING, ~VIOLATING):
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

    def _posts(self, rows: _Rows | None, day: int, first_id: int) -> Posts:
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
        median = np.asarray(reach_cfg.median_views.as_list())[cls]
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
