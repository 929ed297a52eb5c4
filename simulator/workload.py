"""What a run will cost before it starts: posts, CPU time, memory and the
posts table on disk, from the scenario and the policy alone (nothing is
simulated).

A synthetic stream's posts are its expected volume (users x posts per user,
the daily rhythm and surges: :func:`~simulator.stream.synthetic.hourly_rates`);
a replayed log's are its rows (Parquet metadata, or a CSV's size over the
mean length of its first lines). The posts table's ``touched`` rows are the
violating posts plus the legitimate ones expected to reach
``reports_to_queue`` reports (the reach and audience of the scenario; posts
a prefilter flags are not counted).

The costs are per post, per simulated day and per run, measured on this code
(Python 3.11, numpy 2, one core of a shared 2-core machine) with
``time.process_time()`` and ``ru_maxrss`` around :func:`simulator.simulate`
(workers=1, posts written to a Parquet sink, so imports are not counted):

- scale mode, jury only: the quick world at 20,000 users for 365 days
  (3.7 M posts, all written: 7.0 s) and at 80,000 users (14.6 M posts,
  touched: 9.8 s), the Parler-like main job (96 M posts, touched: 19.5 s,
  1.2 GB) and runs of 10 users (4.3 ms per simulated day);
- text mode: the same worlds for 28 days (290,000 posts): generating texts
  3-11 us a post, and with a prefilter scoring them 86 us a post after
  4.5 s of training on the synthetic corpus (2,000 texts per class); the corpus
  grown on 2026-12-05 costs 1.06 of that (measured against the code before
  it, alternating), so 91 us a post and 5.5 s of training (measured alone since:
  77-97 us a post over four 28-day runs of 417,268 posts, median 85, and 4.9-6.1 s,
  on a shared machine too loaded to resolve 6%); the corpus grown on 2026-12-06
  (1,145 templates, texts 8% longer) costs about 1.15 of that (a text-mode run of
  the quick world x2 against the code before it, alternating; training alone 1.15,
  scoring alone 1.1-1.3 at load 5-7), so 105 us a post and 6.3 s of training;
- replay: a 400,000-row log of the quick world read back (5-6 us a row;
  96 us with no label column, when every class is estimated from the text);
- memory: about 250 MB to start (380 MB with a classifier), then 1.6 KB per
  violating post (they stay in memory until the run ends) and 0.1 MB per
  simulated day; a replayed log about 0.9 KB per row;
- disk: ``posts.parquet`` holds 31 bytes a row (all rows, scale mode), 36 to
  50 (touched rows) or 45 to 63 (text mode).

Per post, scale mode cost 0.2 us (the main job) to 0.6 us (the quick world,
which reports more); the estimate takes 0.4. Against those runs it is within
a factor of two: it says whether a run takes seconds, minutes or hours, not
to the second. A run that a suspension ends early costs less.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from simulator.checks import report_probability
from simulator.config import PlatformPolicy, Scenario
from simulator.config.loader import load_as
from simulator.taxonomy import VIOLATING

LARGE_POSTS = 1_000_000
"""A run is large (the CLI shows its estimate first) above this many posts ..."""
LARGE_SECONDS = 60.0
"""... or this much CPU time."""

SECONDS_PER_DAY = 4.3e-3
SECONDS_PER_POST = 0.4e-6  # stream, stages, queues, metrics (scale mode)
SECONDS_PER_TEXT = 5e-6  # generating a post's text
SECONDS_PER_LOG_ROW = 6e-6  # reading and parsing a replayed row
SECONDS_PER_SCORE = 105e-6  # the classifier scoring one text
SECONDS_PER_DRAWN_SCORE = 0.5e-6  # a score drawn from measured distributions (scale mode)
SECONDS_PER_ROW_WRITTEN = 1e-6  # a row of posts.parquet
SECONDS_TO_TRAIN = 6.3  # the synthetic classifier, at 2,000 texts per class
TRAIN_PER_CLASS_MEASURED = 2000

BYTES_AT_START = 250e6
BYTES_CLASSIFIER = 130e6
BYTES_TEXT_MODE = 35e6
BYTES_PER_VIOLATING = 1.6e3
BYTES_PER_DAY = 0.1e6
BYTES_PER_LOG_ROW = 0.9e3
TABLE_BYTES_PER_ROW = {"all": 31.0, "touched": 45.0}
TABLE_BYTES_PER_TEXT_ROW = 50.0

Source = str | Path


@dataclass(frozen=True)
class Workload:
    """A run's expected size and cost (see the module doc for how it is measured)."""

    days: int
    posts: float
    """Posts the run is expected to make (synthetic) or read (replay)."""
    violating: float
    table: str
    """Which rows ``posts.parquet`` gets: ``all``, ``touched`` or ``none``."""
    table_rows: float
    table_bytes: float
    scored_texts: float
    """Texts a classifier scores (text mode with a prefilter, or a log's unlabelled posts)."""
    cpu_seconds: float
    scoring_seconds: float
    """The part of ``cpu_seconds`` spent scoring texts (shared among ``workers``)."""
    wall_seconds: float
    """With ``workers`` processes scoring texts."""
    memory_bytes: float
    """Peak resident memory."""
    from_log: bool
    """Posts are a replayed log's rows (else a synthetic stream's expected volume)."""
    basis: str
    """Where ``posts`` comes from, in words."""

    @property
    def large(self) -> bool:
        """Worth saying before it starts: over a million posts or a minute of CPU."""
        return self.posts > LARGE_POSTS or self.cpu_seconds > LARGE_SECONDS

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"large": self.large}


def estimate(
    scenario: Scenario | Source,
    policy: PlatformPolicy | Source,
    *,
    table: str = "touched",
    workers: int = 1,
) -> Workload:
    """How big and how costly a run of ``policy`` on ``scenario`` will be.

    ``table`` is the posts table the run writes (``all``, ``touched`` or
    ``none``, as ``modsim run --posts``); ``workers`` the processes that score
    texts. Reads nothing but the inputs (and a replayed log's size).
    """
    if table not in ("all", "touched", "none"):
        raise ValueError(f"table: expected all, touched or none, got {table!r}")
    if workers < 1:
        raise ValueError(f"workers: expected at least 1, got {workers}")
    sc = load_as(scenario, Scenario)
    pol = load_as(policy, PlatformPolicy)
    text_mode = sc.content.texts.mode == "text"
    classifier = pol.prefilter.enabled or pol.notices.sweep.enabled
    cpu = SECONDS_PER_DAY * sc.days
    memory = BYTES_AT_START + BYTES_PER_DAY * sc.days
    if sc.stream.is_file:
        posts, basis = _log_rows(sc)
        violating = math.nan
        touched = posts  # the classes are in the log: at most every row
        # Without a label column every post's class is estimated from its text.
        unlabelled = sc.stream.columns is None or sc.stream.columns.label is None
        scored = posts if unlabelled or (classifier and text_mode) else 0.0
        cpu += SECONDS_PER_LOG_ROW * posts
        memory += BYTES_PER_LOG_ROW * posts
        trains = unlabelled or (classifier and pol.prefilter.model.source == "synthetic")
    else:
        posts, violating, touched = _expected_posts(sc, pol)
        basis = "expected from the scenario's population"
        scored = posts if classifier and text_mode else 0.0
        cpu += SECONDS_PER_POST * posts + (SECONDS_PER_TEXT * posts if text_mode else 0.0)
        if classifier and not text_mode:
            cpu += SECONDS_PER_DRAWN_SCORE * posts
        memory += BYTES_PER_VIOLATING * violating
        trains = classifier and pol.prefilter.model.source == "synthetic"
    rows = {"all": posts, "touched": min(touched, posts), "none": 0.0}[table]
    per_row = TABLE_BYTES_PER_TEXT_ROW if text_mode else TABLE_BYTES_PER_ROW.get(table, 0.0)
    cpu += SECONDS_PER_ROW_WRITTEN * rows
    if trains:
        cpu += SECONDS_TO_TRAIN * pol.prefilter.model.train_per_class / TRAIN_PER_CLASS_MEASURED
    if classifier or scored:
        memory += BYTES_CLASSIFIER
    if text_mode:
        memory += BYTES_TEXT_MODE
    scoring = SECONDS_PER_SCORE * scored
    return Workload(
        days=sc.days,
        posts=posts,
        violating=violating,
        table=table,
        table_rows=rows,
        table_bytes=per_row * rows,
        scored_texts=scored,
        cpu_seconds=cpu + scoring,
        scoring_seconds=scoring,
        wall_seconds=cpu + scoring / workers,
        memory_bytes=memory,
        from_log=sc.stream.is_file,
        basis=basis,
    )


def _expected_posts(sc: Scenario, pol: PlatformPolicy) -> tuple[float, float, float]:
    """Expected posts, violating posts and touched posts of a synthetic stream."""
    # Imported here: the stream module pulls in the text generator's tables.
    from simulator.stream.synthetic import hourly_class_probs, hourly_rates

    rates = hourly_rates(sc)
    by_class = (rates[:, None] * hourly_class_probs(sc)).sum(axis=0)
    violating = float(by_class[VIOLATING].sum())
    reported = 0.0
    if pol.reports.enabled:
        # The same upper bound the load check uses: reports ignore earlier removals.
        share = report_probability(sc, pol)
        reported = float(by_class[~VIOLATING] @ share[~VIOLATING])
    return float(rates.sum()), violating, violating + reported


def _log_rows(sc: Scenario) -> tuple[float, str]:
    """Rows of a replayed log: exact for Parquet, from the file size for CSV/TSV."""
    # Imported here: only a replayed scenario reads a log.
    from simulator.stream.postlog import LogReader

    reader = LogReader(sc.stream)
    cap = float(sc.stream.max_rows)  # a larger log is refused when the run starts
    if reader.format == "parquet":
        import pyarrow.parquet as pq

        rows = float(pq.ParquetFile(reader.path).metadata.num_rows)
        return min(rows, cap), "rows in the post log"
    size = reader.path.stat().st_size
    with reader.path.open("rb") as f:
        head = f.read(1 << 20)
    lines = max(1, head.count(b"\n"))
    rows = max(0.0, size / (len(head) / lines) - 1)  # less the header
    return min(rows, cap), "rows in the post log, from its size"
