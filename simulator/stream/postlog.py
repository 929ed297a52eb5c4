"""Reading a platform's post log (CSV, TSV or Parquet) and checking every row.

:class:`LogReader` reads the columns a scenario maps, chunk by chunk with
pyarrow, so a log of millions of rows is read with flat memory;
:class:`LogParser` turns a chunk's raw values into hours since the scenario
start, class codes and numbers, and finds the bad rows, each with its 1-based
data-row number (the header is not a row) and column, for a message that
names the file, the rows and the column. :mod:`simulator.stream.replay` turns
the parsed rows into the posts of a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from simulator.config.scenario import Scenario
from simulator.config.stream import LogColumns, Stream
from simulator.errors import DataFileError
from simulator.taxonomy import CLASS_INDEX, CLASSES

UNKNOWN = -1
"""Class code of a post whose log row carries no label (before estimation)."""

MAX_ROWS_SHOWN = 5
"""Data-row numbers a message names before saying how many more."""

MAX_VIEWS = 10_000_000_000
"""Largest lifetime view count or follower count a log may hold (more people than exist)."""

_COMPRESSED = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\x04\x22\x4d\x18": "lz4",
    b"PK\x03\x04": "zip",
}
"""Leading bytes of the compressed formats pyarrow (or a careless export) would hand over."""

_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


# --- reading --------------------------------------------------------------------------


def rows_text(rows: np.ndarray) -> str:
    """1-based data-row numbers (the header is not a row) for a message."""
    shown = ", ".join(str(int(r)) for r in rows[:MAX_ROWS_SHOWN])
    more = f" and {len(rows) - MAX_ROWS_SHOWN} more" if len(rows) > MAX_ROWS_SHOWN else ""
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
class LogChunk:
    """Raw columns of consecutive log rows (role -> pandas Series) and their row numbers;
    ``undecodable`` marks, by role, values that were not valid text (read as missing)."""

    columns: dict[str, pd.Series]
    rows: np.ndarray
    undecodable: dict[str, np.ndarray] = field(default_factory=dict)


class LogReader:
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
        self._check_size()
        found = self._column_names()
        missing = [f"{role} -> {name!r}" for role, name in self.roles.items() if name not in found]
        if missing:
            raise DataFileError(
                f"{self.path}: missing column(s) {', '.join(missing)} (stream.columns); "
                f"columns found: {found[:30]}"
            )

    def _check_size(self) -> None:
        """Refuse compressed text and logs beyond ``max_rows`` / ``max_bytes`` before reading:
        a few megabytes of gzip can hold gigabytes of rows."""
        cfg = self.cfg
        if self.format == "parquet":
            try:
                meta = pq.ParquetFile(self.path).metadata
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataFileError(f"{self.path}: cannot read as PARQUET: {exc}") from None
            size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            if meta.num_rows > cfg.max_rows:
                raise DataFileError(
                    f"{self.path}: {meta.num_rows:,} data rows, more than {cfg.max_rows:,} "
                    "(stream.max_rows); raise it to replay this log"
                )
            what = "bytes uncompressed"
        else:
            with self.path.open("rb") as f:
                head = f.read(8)
            kind = next((k for magic, k in _COMPRESSED.items() if head.startswith(magic)), None)
            if kind is not None:
                raise DataFileError(
                    f"{self.path}: the file is {kind}-compressed; modsim reads plain "
                    f"{self.format.upper()} (decompress it first) or Parquet"
                )
            size, what = self.path.stat().st_size, "bytes"
        if size > cfg.max_bytes:
            raise DataFileError(
                f"{self.path}: {size} {what}, more than {cfg.max_bytes} (stream.max_bytes); "
                "raise it to replay this log"
            )

    def _too_many_rows(self) -> DataFileError:
        return DataFileError(
            f"{self.path}: more than {self.cfg.max_rows:,} data rows (stream.max_rows); "
            "raise it to replay this log"
        )

    def _open_csv(self, read: Any, parse: Any, convert: Any = None) -> Any:
        # No compression inferred from the suffix: compressed files were refused above.
        source = pa.input_stream(str(self.path), compression=None)
        return pacsv.open_csv(
            source, read_options=read, parse_options=parse, convert_options=convert
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
            with self._open_csv(read, parse) as reader:
                return list(reader.schema.names)
        except (pa.ArrowInvalid, OSError, UnicodeDecodeError, LookupError) as exc:
            raise DataFileError(
                f"{self.path}: cannot read as {self.format.upper()}: {exc}"
            ) from None

    def chunks(self) -> Iterator[LogChunk]:
        """The mapped columns, chunk by chunk, each with its 1-based data-row numbers."""
        if self.format == "parquet":
            yield from self._parquet_chunks()
        else:
            yield from self._csv_chunks()

    def _parquet_chunks(self) -> Iterator[LogChunk]:
        names = list(dict.fromkeys(self.roles.values()))
        start = 1
        try:
            for batch in pq.ParquetFile(self.path).iter_batches(
                batch_size=self.cfg.chunk_rows, columns=names
            ):
                frame = batch.to_pandas()
                rows = np.arange(start, start + len(frame), dtype=np.int64)
                start += len(frame)
                if start - 1 > self.cfg.max_rows:  # the metadata said otherwise
                    raise self._too_many_rows()
                yield LogChunk({role: frame[name] for role, name in self.roles.items()}, rows)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataFileError(f"{self.path}: cannot read as PARQUET: {exc}") from None

    def _csv_chunks(self) -> Iterator[LogChunk]:
        malformed: list[int] = []

        def on_invalid(row: Any) -> str:
            # Physical line number; the header is line 1, so data row = line - 1
            # (exact unless a quoted value spans lines before it).
            malformed.append(int(row.number) - 1 if row.number is not None else -1)
            return "skip"

        read, parse, convert = self._csv_options(on_invalid)
        kept = 0
        try:
            with self._open_csv(read, parse, convert) as reader:
                for batch in reader:
                    if malformed and self.cfg.on_bad_rows == "error":
                        raise DataFileError(
                            f"{self.path}: {rows_text(np.asarray(malformed))}: wrong number "
                            f"of fields (expected {len(reader.schema.names)}); fix the quoting "
                            "or set stream.on_bad_rows: skip"
                        )
                    rows = self._row_numbers(kept, batch.num_rows, malformed)
                    kept += batch.num_rows
                    if kept + len(malformed) > self.cfg.max_rows:
                        raise self._too_many_rows()
                    cols: dict[str, pd.Series] = {}
                    undecodable: dict[str, np.ndarray] = {}
                    for role, name in self.roles.items():
                        cols[role], bad = self._decode(batch.column(name), name, rows)
                        if bad is not None:
                            undecodable[role] = bad
                    yield LogChunk(cols, rows, undecodable)
        except (pa.ArrowInvalid, OSError, UnicodeDecodeError, LookupError) as exc:
            raise DataFileError(
                f"{self.path}: cannot read as {self.format.upper()}: {exc}"
            ) from None
        if malformed and self.cfg.on_bad_rows == "error":
            raise DataFileError(
                f"{self.path}: {rows_text(np.asarray(malformed))}: wrong number of fields; "
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

    def _decode(
        self, column: pa.ChunkedArray, name: str, rows: np.ndarray
    ) -> tuple[pd.Series, np.ndarray | None]:
        """The column as text, and a mask of the values that are not valid UTF-8 (None when
        all are): refused, or with ``on_bad_rows: skip`` read as missing for the parser to
        leave out."""
        try:
            return column.cast(pa.string()).to_pandas(), None
        except pa.ArrowInvalid:
            pass
        texts: list[str | None] = []
        for value in column.to_pylist():
            try:
                texts.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                texts.append(None)
        # CSV values are never null here (strings_can_be_null=False): None marks a bad one
        bad = np.fromiter((t is None for t in texts), dtype=bool, count=len(texts))
        if self.cfg.on_bad_rows == "error":
            raise DataFileError(
                f"{self.path}: column {name!r} is not valid UTF-8 at "
                f"{rows_text(rows[bad])}; set stream.encoding (e.g. latin-1 or cp1252)"
            ) from None
        return pd.Series(texts, dtype=object), bad


# --- parsing ----------------------------------------------------------------------------


@dataclass
class LogRows:
    """Parsed, valid rows inside the scenario period (columns as arrays)."""

    row: np.ndarray
    created: np.ndarray
    code: np.ndarray
    views: np.ndarray
    followers: np.ndarray
    order: np.ndarray
    text: np.ndarray
    author: np.ndarray
    """Who made each post (text), when the log maps an author column (else zeros)."""

    def __len__(self) -> int:
        return len(self.row)

    def take(self, idx: np.ndarray) -> LogRows:
        return LogRows(*(getattr(self, f)[idx] for f in _ROW_FIELDS))

    @staticmethod
    def concat(parts: list[LogRows]) -> LogRows:
        return LogRows(*(np.concatenate([getattr(p, f) for p in parts]) for f in _ROW_FIELDS))


_ROW_FIELDS = ("row", "created", "code", "views", "followers", "order", "text", "author")


def _names(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """An author column as text (a number read from Parquet names its account too:
    ``42`` and ``42.0`` are one author), and which values are missing or blank."""
    raw = values.to_numpy(dtype=object)
    missing = pd.isna(raw)
    names = np.array(
        [
            "" if m else (_integral(v) if isinstance(v, float) else str(v).strip())
            for v, m in zip(raw, missing, strict=True)
        ],
        dtype=object,
    )
    return names, missing | (names == "")


def _integral(v: float) -> str:
    return str(int(v)) if v.is_integer() else repr(v)


def _blank(values: np.ndarray) -> np.ndarray:
    """Which values are strings of nothing but white space (a loop: pandas's ``str.strip``
    is several times slower)."""
    return np.fromiter(
        (isinstance(v, str) and not v.strip() for v in values), dtype=bool, count=len(values)
    )


class LogParser:
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

    def parse(self, chunk: LogChunk) -> tuple[LogRows, dict[str, np.ndarray], int]:
        """Valid rows inside the period, bad rows by column, and rows outside the period."""
        cols, n = chunk.columns, len(chunk.rows)
        bad: dict[str, np.ndarray] = {}
        created = self._hours(cols["created_at"])
        bad["created_at"] = ~np.isfinite(created)
        text = cols["text"].to_numpy(dtype=object)
        bad["text"] = pd.isna(text) | _blank(text)
        code = np.full(n, UNKNOWN, dtype=np.int8)
        if "label" in cols:
            code, bad["label"] = self._labels(cols["label"])
        views = self._number(cols.get("views"), n, bad, "views")
        followers = self._number(cols.get("followers"), n, bad, "followers")
        order = np.zeros(n, dtype=np.float64)
        if "post_id" in cols:
            order = pd.to_numeric(cols["post_id"], errors="coerce").to_numpy(dtype=np.float64)
            bad["post_id"] = ~np.isfinite(order)
        author: np.ndarray = np.zeros(n, dtype=np.int8)
        if "author" in cols:
            author, bad["author"] = _names(cols["author"])
        for role, mask in chunk.undecodable.items():
            # read as missing, which a label or a number may be: not valid text is bad
            bad[role] = bad.get(role, np.zeros(n, dtype=bool)) | mask
        any_bad = np.zeros(n, dtype=bool)
        for mask in bad.values():
            any_bad |= mask
        inside = ~any_bad & (created >= 0.0) & (created < self.end_hours)
        outside = int((~any_bad & ~inside).sum())
        rows = LogRows(
            chunk.rows[inside],
            created[inside],
            code[inside],
            views[inside],
            followers[inside],
            order[inside],
            text[inside],
            author[inside],
        )
        return rows, {k: chunk.rows[m] for k, m in bad.items() if m.any()}, outside

    def describe(self, column: str, rows: np.ndarray) -> str:
        what = {
            "created_at": f"missing or unparseable {self.cfg.timestamps} timestamp",
            "text": "missing or blank text",
            "label": "label that is neither a class name nor in stream.labels",
            "views": f"views that are not a number from 0 to {MAX_VIEWS:,}",
            "followers": f"follower count that is not a number from 0 to {MAX_VIEWS:,}",
            "post_id": "missing or non-numeric post id",
            "author": "missing or blank author",
        }[column]
        name = getattr(self.columns, column)
        return f"{self.path}: column {name!r}: {what} at {rows_text(rows)}"

    def repeat_keys(self, rows: LogRows) -> np.ndarray:
        """A 64-bit key for each parsed row: its post id when one is mapped, else a hash of
        its creation time and text. Equal keys mark a post the log holds twice."""
        if self.columns is not None and self.columns.post_id is not None:
            return (rows.order + 0.0).view(np.uint64)  # + 0.0: -0.0 is 0.0
        # Python's own string hash (keys are compared only within one scan, so its
        # per-process salt does not matter); texts are strings, checked by parse
        text = np.fromiter(map(hash, rows.text), dtype=np.int64, count=len(rows)).view(np.uint64)
        return (rows.created + 0.0).view(np.uint64) * np.uint64(1_000_003) ^ text

    def describe_repeats(self, repeats: np.ndarray, firsts: np.ndarray) -> str:
        """The message for data rows ``repeats`` that repeat data rows ``firsts``."""
        id_column = self.columns.post_id if self.columns is not None else None
        what = "the post id of " if id_column else ""
        pairs = ", ".join(
            f"data row {r} repeats {what}data row {f}"
            for r, f in zip(repeats[:MAX_ROWS_SHOWN].tolist(), firsts.tolist(), strict=False)
        )
        if len(repeats) > MAX_ROWS_SHOWN:
            pairs += f" and {len(repeats) - MAX_ROWS_SHOWN} more"
        if id_column:
            return f"{self.path}: column {id_column!r}: {pairs}"
        return f"{self.path}: {pairs} (the same creation time and text)"

    # The pieces ---------------------------------------------------------------------
    def _number(
        self, values: pd.Series | None, n: int, bad: dict[str, np.ndarray], role: str
    ) -> np.ndarray:
        if values is None:
            return np.full(n, np.nan)
        blank = values.isna().to_numpy() | (values.astype(str).str.strip() == "").to_numpy()
        number = pd.to_numeric(values.where(~blank), errors="coerce").to_numpy(dtype=np.float64)
        bad[role] = ~blank & ~((number >= 0) & (number <= MAX_VIEWS))  # NaN fails both
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
