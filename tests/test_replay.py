"""Replaying a post log: column mapping, time zones, bad rows, partial labels, round trip.

Every log here is written by the test itself (no real user data is shipped),
mostly from a synthetic run's own post table.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, tweak
from typer.testing import CliRunner

from simulator.api import simulate
from simulator.cli import app
from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.errors import DataFileError
from simulator.seeding import SeedTree
from simulator.stream.replay import ReplayStream
from simulator.taxonomy import CLASSES

runner = CliRunner()


def replay_of(scenario: Scenario, path: Path, **stream: Any) -> Scenario:
    """The scenario's world (reach, audience, rhythm, texts), its posts from a file."""
    data = scenario.model_dump(mode="json")
    data["name"] = scenario.name + "-replay"
    profile = data.pop("population")["hourly_profile"]
    data.pop("surges")
    data["content"].pop("class_shares")
    data["stream"] = {
        "source": "file",
        "path": str(path),
        "hourly_profile": profile,
        "columns": {"created_at": "created_at", "text": "text"},
        **stream,
    }
    return Scenario.model_validate(data)


def synthetic_posts(scenario: Scenario, policy: PlatformPolicy, seed: int) -> pd.DataFrame:
    frames: list[pd.DataFrame] = []
    simulate(scenario, policy, seed=seed, table="all", sink=frames.append)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def small(quick: Scenario) -> Scenario:
    """Three days of the quick world, in text mode (a replay needs texts)."""
    return tweak(quick, days=3, surges=[])


@pytest.fixture(scope="module")
def table(small: Scenario, jury_only: PlatformPolicy) -> pd.DataFrame:
    return synthetic_posts(small, jury_only, seed=11)


def strip(summary: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in summary.items() if k not in ("run", "inputs", "replay")}
    out["run"] = {k: v for k, v in summary["run"].items() if k != "scenario"}
    # Posts a suspension prevented: the generator's expected rate, whereas a log
    # holds only posts that were made (none after the original suspension).
    out["enforcement"] = {
        k: v for k, v in summary["enforcement"].items() if k != "expected_posts_not_made"
    }
    return out


FULL = {"label": "cls", "views": "reach", "post_id": "post_id"}
COLS = {"created_at": "created_at", "text": "text"}


@pytest.mark.parametrize("seed", [1, 2])
def test_replaying_a_runs_own_post_table_reproduces_it(
    small: Scenario, jury_only: PlatformPolicy, strike_host: HostPolicy, seed: int, tmp_path: Path
) -> None:
    # Notices, but no suspension: after a suspension the original run still counts
    # the cases of posts made after it in its queue figures, which no log can hold.
    host = tweak(strike_host, detection__outside_reports_per_million_views=1000.0)
    frames: list[pd.DataFrame] = []
    original = simulate(small, jury_only, [host], seed=seed, table="all", sink=frames.append)
    assert original.summary["enforcement"]["enforcers"][0]["notices"] > 0  # the host acted
    log = tmp_path / "posts.parquet"
    # Rows leave the engine out of id order; shuffle further to test the day buffering.
    posts = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=seed)
    posts.to_parquet(log, index=False)
    replay = replay_of(
        small,
        log,
        timestamps="hours",
        chunk_rows=1000,
        columns={**FULL, "created_at": "created_at", "text": "text"},
    )
    again = simulate(replay, jury_only, [host], seed=seed)
    assert json.dumps(strip(again.summary), sort_keys=True) == json.dumps(
        strip(original.summary), sort_keys=True
    )
    assert again.summary["replay"]["rows_used"] == len(posts)
    assert again.summary["replay"]["labels"] == "all"


def test_cli_round_trip_with_a_prefilter_and_a_csv_log(tmp_path: Path) -> None:
    """`modsim run --posts all` in text mode, then the same run replayed from its table."""
    # A replayed log has no expected class mix: its targets are met on the validation sample.
    policy = tmp_path / "jury-plus-ai.yaml"
    policy.write_text(
        (ROOT / "policies/jury-plus-ai.yaml")
        .read_text()
        .replace("{precision: 0.9}", "{precision: 0.9, mix: validation}")
    )
    assert policy.read_text().count("mix: validation") == 2
    args = ["-p", str(policy), "--no-host", "--seed", "4", "-q"]
    quick = tmp_path / "quick2.yaml"  # two days of the quick world, without its surge
    quick.write_text(
        (ROOT / "scenarios/quick.yaml")
        .read_text()
        .replace("days: 7", "days: 2")
        .split("surges:")[0]
    )
    res = runner.invoke(
        app, ["run", str(quick), *args, "--out", str(tmp_path / "a"), "--posts", "all"]
    )
    assert res.exit_code == 0, res.output
    csv = tmp_path / "log.csv"
    pd.read_parquet(tmp_path / "a/posts.parquet").to_csv(csv, index=False)
    scenario = (quick.read_text()).split("population:")[0] + (
        "stream:\n  source: file\n  path: log.csv\n  timestamps: hours\n"
        "  columns: {created_at: created_at, text: text, label: cls, views: reach,\n"
        "            post_id: post_id}\n"
        "  hourly_profile: [0.5, 0.35, 0.25, 0.2, 0.25, 0.45, 0.7, 0.9, 1.0, 1.05, 1.1, 1.15,\n"
        "                   1.2, 1.2, 1.2, 1.25, 1.3, 1.4, 1.5, 1.55, 1.5, 1.3, 1.0, 0.7]\n"
        + "content:"
        + quick.read_text()
        .split("content:")[1]
        .split("surges:")[0]
        .replace(
            "  class_shares: {violent_threat: 0.004, incitement: 0.006, violent_news: 0.03, "
            "heated_political: 0.2, benign: 0.76}\n",
            "",
        )
    )
    (tmp_path / "replay.yaml").write_text(scenario)
    res = runner.invoke(
        app, ["run", str(tmp_path / "replay.yaml"), *args, "--out", str(tmp_path / "b")]
    )
    assert res.exit_code == 0, res.output
    a = json.loads((tmp_path / "a/summary.json").read_text())
    b = json.loads((tmp_path / "b/summary.json").read_text())
    assert strip(a) == strip(b)
    assert "Replayed post log" in (tmp_path / "b/report.md").read_text()


def write_log(path: Path, rows: dict[str, list[Any]]) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def stream(scenario: Scenario, seed: int = 0) -> ReplayStream:
    return ReplayStream(scenario, SeedTree(seed), with_text=True)


def test_column_mapping_and_time_zones(small: Scenario, tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "log.csv",
        {
            "when": [
                "2021-03-01 05:30",  # naive: New York local time -> 10:30 UTC
                "2021-03-01T12:00:00Z",  # offset given: converted
                "2021-03-02T01:00:00+02:00",  # 23:00 UTC on the 1st
                "2021-03-02 20:00",  # New York -> 01:00 UTC on the 3rd
                "2021-02-27 12:00",  # before the period: left out, counted
            ],
            "body": ["a", "b", "c", "d", "e"],
            "truth": ["threat", "", "benign", "incitement", "benign"],
            "seen": [100, 200, "", 50, 1],
        },
    )
    sc = replay_of(
        small,
        log,
        time_zone="America/New_York",
        labels={"threat": "violent_threat"},
        columns={"created_at": "when", "text": "body", "label": "truth", "views": "seen"},
    )
    s = stream(sc)
    d0, d1, d2 = s.generate_day(0, 0), s.generate_day(1, 2), s.generate_day(2, 2)
    assert d0.created_at.tolist() == [10.5, 12.0, 23.0]  # ordered by time (no post_id)
    assert d0.text == ["a", "b", "c"]
    assert [CLASSES[c] for c in d0.cls[[0, 2]]] == ["violent_threat", "benign"]
    assert d0.labelled.tolist() == [True, False, True]
    assert d0.reach[0] == 100.0 and d0.reach[1] == 200.0
    assert d0.reach[2] > 0  # blank views: drawn from the reach model
    assert len(d1) == 0 and d2.created_at.tolist() == [49.0] and d2.post_id.tolist() == [2]
    assert s.meta["replay"]["rows_outside_period"] == 1
    assert s.hourly_rate.sum() == 4


@pytest.mark.parametrize("zone, hour", [("UTC", 5.5), ("Europe/Paris", 4.5), ("Asia/Tokyo", 20.5)])
def test_naive_timestamps_are_read_in_the_files_zone(
    small: Scenario, tmp_path: Path, zone: str, hour: float
) -> None:
    when = "2021-03-01 05:30" if zone != "Asia/Tokyo" else "2021-03-02 05:30"
    log = write_log(tmp_path / "log.csv", {"created_at": [when], "text": ["x"], "cls": ["benign"]})
    sc = replay_of(small, log, time_zone=zone, columns={**COLS, "label": "cls"})
    assert stream(sc).generate_day(0, 0).created_at.tolist() == [hour]


def test_drawn_reach_and_estimates_depend_only_on_the_seed(
    small: Scenario, table: pd.DataFrame, tmp_path: Path
) -> None:
    log = tmp_path / "log.parquet"
    every_other = np.arange(len(table)) % 2 == 0
    table.assign(cls=table["cls"].astype(str).where(every_other, None))[
        ["created_at", "text", "cls"]
    ].to_parquet(log)
    sc = replay_of(small, log, timestamps="hours", columns={**COLS, "label": "cls"})
    a, b, c = (stream(sc, seed).generate_day(1, 0) for seed in (3, 3, 4))
    np.testing.assert_array_equal(a.reach, b.reach)
    np.testing.assert_array_equal(a.cls, b.cls)
    assert not np.array_equal(a.reach, c.reach)


def bad_log(tmp_path: Path) -> Path:
    return write_log(
        tmp_path / "bad.csv",
        {
            "created_at": ["2021-03-01 01:00", "yesterday", "2021-03-01 02:00", "2021-13-01 00:00"],
            "text": ["a", "b", "c", "d"],
            "cls": ["benign", "benign", "incitement", "benign"],
        },
    )


def test_unparseable_timestamps_are_refused_with_file_rows_and_column(
    small: Scenario, tmp_path: Path
) -> None:
    log = bad_log(tmp_path)
    with pytest.raises(DataFileError) as info:
        stream(replay_of(small, log))
    msg = str(info.value)
    assert str(log) in msg and "'created_at'" in msg and "data rows 2, 4" in msg


def test_skipped_rows_are_counted_in_the_report(
    small: Scenario, jury_only: PlatformPolicy, tmp_path: Path
) -> None:
    sc = replay_of(small, bad_log(tmp_path), on_bad_rows="skip", columns={**COLS, "label": "cls"})
    r = simulate(sc, jury_only, seed=1)
    rep = r.summary["replay"]
    assert rep["rows_skipped"] == 2 and rep["skipped_by_column"] == {"created_at": 2}
    assert rep["skipped_rows_first"]["created_at"] == [2, 4]
    assert r.summary["posts"]["created"] == 2


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty"),
        (b"created_at,text\n", "no data rows"),
        (b"created_at,body\n2021-03-01 01:00,x\n", "missing column(s) text -> 'text'"),
        (b"created_at,text\n2021-03-01 01:00,ok\n2021-03-01 02:00,caf\xe9\n", "data row 2"),
        (b"created_at,text\n2021-03-01 01:00,a\n2021-03-01 02:00,b,extra\n", "data row 2"),
        (b"created_at,text\n2021-05-01 01:00,a\n", "none of the 1 rows"),
    ],
    ids=["empty", "header-only", "missing-column", "encoding", "malformed", "outside"],
)
def test_bad_logs_are_refused(
    small: Scenario, tmp_path: Path, content: bytes, expected: str
) -> None:
    log = tmp_path / "log.csv"
    log.write_bytes(content)
    with pytest.raises(DataFileError, match=str(log)) as info:
        stream(replay_of(small, log))
    assert expected in str(info.value)


def test_another_encoding_can_be_named(small: Scenario, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_bytes("created_at,text,cls\n2021-03-01 01:00,café,benign\n".encode("latin-1"))
    sc = replay_of(small, log, encoding="latin-1", columns={**COLS, "label": "cls"})
    assert stream(sc).generate_day(0, 0).text == ["café"]


def test_cli_refuses_a_bad_log_with_exit_code_2(small: Scenario, tmp_path: Path) -> None:
    log = bad_log(tmp_path)
    text = (ROOT / "scenarios/quick.yaml").read_text().split("population:")[0]
    text += (
        "stream:\n  source: file\n  path: bad.csv\n"
        "  columns: {created_at: created_at, text: text}\n"
        + "reach:"
        + (ROOT / "scenarios/quick.yaml").read_text().split("reach:")[1].split("surges:")[0]
    )
    (tmp_path / "replay.yaml").write_text(text)
    res = runner.invoke(app, ["run", str(tmp_path / "replay.yaml"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert (
        str(log) in res.output and "data rows 2, 4" in res.output and "Traceback" not in res.output
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_partial_labels_separate_measured_from_estimated(
    small: Scenario, table: pd.DataFrame, jury_only: PlatformPolicy, tmp_path: Path, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    known = rng.random(len(table)) < 0.5
    log = tmp_path / "log.parquet"
    posts = table.assign(cls=table["cls"].astype(str).where(known, None))
    posts.to_parquet(log)
    sc = replay_of(
        small, log, timestamps="hours", columns={**FULL, "created_at": "created_at", "text": "text"}
    )
    s = simulate(sc, jury_only, seed=seed).summary
    rep = s["replay"]
    assert rep["labels"] == "partial"
    truth = table["violating"].to_numpy()
    m, e = rep["measured"], rep["estimated"]
    # Measured figures count exactly the labelled posts of each kind.
    assert m["violating"] == int((truth & known).sum())
    assert m["legitimate"] == int((~truth & known).sum())
    assert e["violating"] == s["violating"]["count"]
    # The estimate of the unlabelled violating posts: a sum of Bernoulli draws
    # (sd <= sqrt(n)) plus the classifier's own error (allow 15%).
    true_unlabelled = int((truth & ~known).sum())
    estimated_unlabelled = e["violating"] - m["violating"]
    assert (
        abs(estimated_unlabelled - true_unlabelled)
        <= 4 * np.sqrt(true_unlabelled) + 0.15 * true_unlabelled
    )


def test_config_rules_for_a_file_stream(quick: Scenario, tmp_path: Path) -> None:
    from simulator.config import load_text
    from simulator.errors import ConfigError

    base = (ROOT / "scenarios/quick.yaml").read_text()
    with pytest.raises(ConfigError, match="population describes a synthetic stream") as info:
        load_text(base + "stream: {source: file, path: x.csv, columns: {created_at: t, text: x}}\n")
    assert info.value.field == "population"
    with pytest.raises(ConfigError, match="path is required"):
        load_text(base + "stream: {source: file}\n")
    with pytest.raises(ConfigError, match="only for `source: file`"):
        load_text(base + "stream: {path: x.csv}\n")


# --- hostile logs ---------------------------------------------------------------------------

HEADER = b"created_at,text,cls\n"


def test_skip_leaves_out_rows_that_are_not_valid_utf8(small: Scenario, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_bytes(
        HEADER
        + b"2021-03-01 01:00,ok,benign\n"
        + b"2021-03-01 02:00,caf\xe9,benign\n"
        + b"2021-03-01 03:00,fine,bad\xffclass\n"
        + b"2021-03-01 04:00,good,benign\n"
    )
    s = stream(replay_of(small, log, on_bad_rows="skip", columns={**COLS, "label": "cls"}))
    assert s.generate_day(0, 0).text == ["ok", "good"]
    rep = s.meta["replay"]
    assert rep["skipped_by_column"] == {"text": 1, "label": 1}
    assert rep["skipped_rows_first"] == {"text": [2], "label": [3]}
    with pytest.raises(DataFileError, match=r"column 'text' is not valid UTF-8 at data row 2"):
        stream(replay_of(small, log, columns={**COLS, "label": "cls"}))


@pytest.mark.parametrize("blank", [b"", b'""', b'"   "', b"\t"])
def test_a_blank_text_is_refused_as_the_readme_says(
    small: Scenario, tmp_path: Path, blank: bytes
) -> None:
    log = tmp_path / "log.csv"
    log.write_bytes(HEADER + b"2021-03-01 01:00,a,benign\n2021-03-01 02:00," + blank + b",benign\n")
    with pytest.raises(DataFileError) as info:
        stream(replay_of(small, log))
    assert str(log) in str(info.value)
    assert "column 'text': missing or blank text at data row 2" in str(info.value)
    s = stream(replay_of(small, log, on_bad_rows="skip"))
    assert s.meta["replay"]["skipped_by_column"] == {"text": 1}


def test_repeated_rows_are_refused_or_skipped(small: Scenario, tmp_path: Path) -> None:
    once = b"2021-03-01 01:00,a,benign\n"
    log = tmp_path / "log.csv"
    # row 3 is row 1 again (its label aside: the same time and text is the same post);
    # row 4 has row 1's text at another time
    log.write_bytes(
        HEADER
        + once
        + b"2021-03-01 02:00,b,benign\n"
        + once.replace(b"benign", b"incitement")
        + b"2021-03-01 03:00,a,benign\n"
    )
    sc = replay_of(small, log, columns={**COLS, "label": "cls"})
    with pytest.raises(DataFileError, match=str(log)) as info:
        stream(sc)
    assert "data row 3 repeats data row 1" in str(info.value)
    s = stream(replay_of(small, log, on_bad_rows="skip", columns={**COLS, "label": "cls"}))
    assert s.generate_day(0, 0).text == ["a", "b", "a"]
    rep = s.meta["replay"]
    assert rep["rows_used"] == 3 and s.hourly_rate.sum() == 3
    assert rep["skipped_by_column"] == {"(repeated row)": 1}
    assert rep["skipped_rows_first"] == {"(repeated row)": [3]}


def test_a_repeated_post_id_is_refused(small: Scenario, tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "log.csv",
        {
            "created_at": ["2021-03-01 01:00", "2021-03-01 02:00", "2021-03-01 03:00"],
            "text": ["a", "b", "c"],
            "id": [7, 8, 7],
        },
    )
    with pytest.raises(DataFileError) as info:
        stream(replay_of(small, log, columns={**COLS, "post_id": "id"}))
    assert "column 'id': data row 3 repeats the post id of data row 1" in str(info.value)
    s = stream(replay_of(small, log, on_bad_rows="skip", columns={**COLS, "post_id": "id"}))
    assert s.generate_day(0, 0).text == ["a", "b"]


@pytest.mark.parametrize("column", ["views", "followers"])
@pytest.mark.parametrize("value", ["1e300", "inf", "-1", "20000000000"])
def test_views_and_followers_are_bounded(
    small: Scenario, tmp_path: Path, column: str, value: str
) -> None:
    log = write_log(
        tmp_path / "log.csv",
        {"created_at": ["2021-03-01 01:00", "2021-03-01 02:00"], "text": ["a", "b"],
         column: ["10000000000", value]},
    )  # fmt: skip
    cols: dict[str, Any] = {**COLS, column: column}
    extra = {"views_per_follower": 0.5} if column == "followers" else {}
    with pytest.raises(DataFileError) as info:
        stream(replay_of(small, log, columns=cols, **extra))
    assert f"column {column!r}" in str(info.value) and "at data row 2" in str(info.value)
    assert "10,000,000,000" in str(info.value)


@pytest.mark.parametrize(
    "suffix, fmt", [(".csv.gz", "csv"), (".csv", "csv"), (".csv", "auto"), (".tsv", "tsv")]
)
def test_compressed_logs_are_refused_before_reading(
    small: Scenario, tmp_path: Path, suffix: str, fmt: str
) -> None:
    log = tmp_path / f"log{suffix}"
    log.write_bytes(gzip.compress(HEADER + b"2021-03-01 01:00,a,benign\n" * 1000))
    with pytest.raises(DataFileError, match="gzip-compressed") as info:
        stream(replay_of(small, log, format=fmt))
    assert str(log) in str(info.value)


def test_row_and_size_caps(small: Scenario, tmp_path: Path) -> None:
    rows = HEADER + b"".join(b"2021-03-01 0%d:00,a,benign\n" % h for h in range(6))
    log = tmp_path / "log.csv"
    log.write_bytes(rows)
    with pytest.raises(DataFileError, match=r"more than 5 data rows \(stream.max_rows\)"):
        stream(replay_of(small, log, max_rows=5))
    with pytest.raises(
        DataFileError, match=rf"{len(rows)} bytes, more than 100 \(stream.max_bytes\)"
    ):
        stream(replay_of(small, log, max_bytes=100))
    assert stream(replay_of(small, log, max_rows=6, max_bytes=len(rows))).hourly_rate.sum() == 6
    pq_log = tmp_path / "log.parquet"
    pd.read_csv(log).to_parquet(pq_log)
    with pytest.raises(DataFileError, match=r"6 data rows, more than 5 \(stream.max_rows\)"):
        stream(replay_of(small, pq_log, max_rows=5))
    with pytest.raises(
        DataFileError, match=r"bytes uncompressed, more than 10 \(stream.max_bytes\)"
    ):
        stream(replay_of(small, pq_log, max_bytes=10))
