"""How numbers are written: one function per kind of figure, the same text in
reports, their Markdown twins and the CLI; and the one Student-t interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator import format as fmt
from simulator.experiments.stats import mean_band, mean_ci


@pytest.mark.parametrize(
    ("x", "text"),
    [(None, "n/a"), (0, "0"), (12345, "12,345"), (12.5, "12.5"), (1234.5, "1,234"), (3.0, "3")],
)
def test_number(x, text):
    assert fmt.number(x) == text


@pytest.mark.parametrize(
    ("h", "text"),
    [
        (None, "never"),
        (math.inf, "never"),
        (0.25, "15 min"),
        (5.0, "5.0 h"),
        (72.0, "3.0 days"),
        (-3.2, "-3.2 h"),
        (-0.5, "-30 min"),
    ],
)
def test_hours(h, text):
    assert fmt.hours(h) == text


@pytest.mark.parametrize(
    ("h", "duration", "tick"),
    [
        (0.5, "0.5 h", "30 min"),
        (24.0, "1 day", "1 d"),
        (48.0, "2 days", "2 d"),
        (30.0, "30 h", "30 h"),
    ],
)
def test_thresholds_and_ticks(h, duration, tick):
    assert fmt.threshold(h) == duration
    assert fmt.hours_tick(h) == tick


def test_shares_ratios_money_dates():
    assert fmt.share(0.934) == "93.4%"
    assert fmt.share(math.nan) == fmt.share(None) == "n/a"
    assert fmt.share(0.934, 0) == "93%"
    assert fmt.confidence_level(0.975) == "97.5%"
    assert fmt.ratio(0.91234) == "0.912"
    assert fmt.ratio(math.nan, missing="-") == fmt.ratio(np.float32("nan"), missing="-") == "-"
    assert fmt.money(1234.5, "EUR") == "1,234 EUR"
    assert fmt.money(None) == "n/a"
    assert fmt.date("2021-03-01T12:34:56") == "2021-03-01 12:34"
    assert fmt.date(None) == "never"
    assert fmt.days(3.25) == "3.2"


def test_intervals():
    assert fmt.interval(0.5, 0.4, 0.6, fmt.share) == "50.0% (40.0% to 60.0%)"
    assert fmt.interval(0.5, math.nan, math.nan, fmt.share) == "50.0%"
    assert fmt.interval(math.inf, math.nan, math.nan, fmt.hours) == "never"
    assert fmt.interval(math.nan, 1, 2, fmt.number) == "n/a"
    assert fmt.interval(12.34, -1.0, 25.7, fmt.signed) == "+12.3 (-1 to +25.7)"


def test_compact_figures():
    assert [fmt.compact(x) for x in (5, 999, 1000, 153_118, 1_530_000, 2.1e9)] == [
        "5",
        "999",
        "1 k",
        "153 k",
        "1.53 M",
        "2.1 bn",
    ]
    assert fmt.compact(-161_096) == "-161 k"


def test_changes_in_plain_words():
    # a clear fall, with its size relative to the baseline and the interval's two ends
    said = fmt.change(
        "views_before_removal", -161_096, -178_772, -143_420, 200_980, "harmful views"
    )
    assert said == "161 k fewer harmful views (-80%; 95% interval 143 k to 179 k fewer)"
    # a rise many times the baseline
    said = fmt.change("wrongful_removals", 241.3, 142.9, 339.8, 4, "wrongful removals")
    assert said.startswith("241.3 more wrongful removals (61 times as many;")
    # an interval across zero is no clear change, whatever the mean says
    said = fmt.change("wrongful_removals", 3, -5, 13, 4, "wrongful removals")
    assert said == "no clear change in wrongful removals (95% interval 5 fewer to 13 more)"
    assert fmt.change("removed_within_1h", 0.79, 0.78, 0.8, 0.5).startswith("79.0 points higher")
    assert fmt.change("latency_p90_hours", -30, -40, -20).startswith("30.0 h shorter (95%")
    assert fmt.change("suspended_after_days", 1.8, 1.5, 2.1).startswith("1.8 days later")
    assert fmt.change("jury_backlog_max", 0, 0, 0, 0, "backlog") == "no change in backlog"


@pytest.mark.parametrize(
    ("metric", "x", "text"),
    [
        ("removed_within_24h", 0.9, "90.0%"),
        ("latency_p90_hours", 30.0, "30.0 h"),
        ("latency_p90_hours", math.inf, "never"),
        ("views_before_removal", 1234567.0, "1,234,567"),
        ("suspended_after_days", 3.25, "3.2"),
        ("cost_per_day", 1500.0, "1,500 EUR"),
        ("wrongful_removals", None, "n/a"),
    ],
)
def test_metric_values_follow_their_unit(metric, x, text):
    assert fmt.metric_value(x, metric, "EUR") == text


@pytest.mark.parametrize(
    ("metric", "x", "long", "short", "signed"),
    [
        ("views_before_removal", 153118.0, "153,118", "153 k", "+153 k"),
        ("views_before_removal", -1.5e6, "-1,500,000", "-1.5 M", "-1.5 M"),
        ("removed_within_24h", 0.765, "76.5%", "76.5%", "+76.5 pt"),
        ("latency_p90_hours", 3.2, "3.2 h", "3.2 h", "+3.2 h"),
        ("suspended_after_days", 3.25, "3.2", "3.2", "+3.2 d"),
        ("wrongful_removals", 0.0, "0", "0", "0"),
    ],
)
def test_short_values_and_differences(metric, x, long, short, signed):
    # short shortens counts only; a difference carries its sign and a short unit
    assert fmt.metric_value(x, metric) == long
    assert fmt.metric_value(x, metric, short=True) == short
    assert fmt.signed_amount(x, metric) == signed


@pytest.mark.parametrize("seed", range(5))
def test_mean_band_is_mean_ci_per_column(seed):
    rng = np.random.default_rng(seed)
    rows = rng.normal(10, 3, size=(int(rng.integers(2, 12)), 6))
    rows[0, 1] = np.nan  # one replication never reaches this point
    rows[1:, 2] = np.nan  # only one does: no band
    rows[:, 3] = np.inf  # none does (finitely)
    mean, lo, hi = mean_band(rows)
    for j in range(rows.shape[1]):
        col = rows[:, j]
        ci = mean_ci(col[np.isfinite(col)])
        assert np.allclose(
            [mean[j], lo[j], hi[j]],
            [ci["mean"], ci["ci_low"], ci["ci_high"]],
            rtol=1e-12,
            equal_nan=True,
        )
