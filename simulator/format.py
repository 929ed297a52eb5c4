"""How every number modsim shows is written: reports, their Markdown twins,
figures' labels and the CLI's tables all call these functions, so one figure
reads the same wherever it appears.

A leaf (standard library only): the classifier, results, report and CLI
layers all import it, which is why it sits at the top of the package rather
than inside :mod:`simulator.report`. The names are the Jinja filters the
report templates use (``number``, ``counted``, ``share``, ``hours``, ``date``,
``ratio``, ``money``).

Conventions: ``None`` or NaN is missing (``"n/a"`` unless a caller's table
says otherwise); an infinite duration is ``"never"``. Metric names follow
:func:`simulator.experiments.design.headline_metrics`; :func:`metric_value`
picks a metric's unit from its name.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, Literal

MISSING = "n/a"
NEVER = "never"

Unit = Literal["share", "hours", "number"]


def is_missing(x: Any) -> bool:
    """``None`` or a float NaN."""
    return x is None or (isinstance(x, float) and math.isnan(x))


# --- counts and amounts -------------------------------------------------------


def number(x: float | None) -> str:
    """A count or amount with thousands separators: ``12,345``; a small
    fractional mean keeps one decimal (``12.5``)."""
    if x is None:
        return MISSING
    if isinstance(x, float) and not x.is_integer() and abs(x) < 1000:
        return f"{x:,.1f}"
    if isinstance(x, float):
        return f"{round(x):,}"
    return f"{int(x):,}"


def counted(n: float | None, noun: str, plural: str = "") -> str:
    """A count with its noun, as a sentence says it: ``no notices``, ``1 notice``,
    ``1,204 notices`` (``plural`` when adding an s is wrong)."""
    many = plural or noun + "s"
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return f"{MISSING} {many}"
    if n == 0:
        return f"no {many}"
    return f"{number(n)} {noun if n == 1 else many}"


def compact(x: float) -> str:
    """A large figure in few characters, as people say it: ``153 k``, ``1.53 M``,
    ``2.1 bn``; below a thousand as :func:`number` writes it."""
    a = abs(x)
    for unit, scale in (("bn", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= scale:
            v = x / scale
            return f"{v:.3g} {unit}" if abs(v) < 99.95 else f"{v:.0f} {unit}"
    return number(float(x))


def decimal(x: float, digits: int = 1) -> str:
    """A float with fixed decimals and thousands separators: ``1,234.5``."""
    return f"{x:,.{digits}f}"


def signed(x: float) -> str:
    """A difference with its sign, to one decimal at most: ``+12.5``, ``-3``, ``0``."""
    return ("+" if x > 0 else "") + number(float(round(x, 1)))


def as_written(x: float) -> str:
    """A parameter as people write it, shortest form: ``0.05``, ``24``, ``1e+06``."""
    return f"{x:g}"


def significant(x: float, as_share: bool = False) -> str:
    """A figure in a narrow table cell: three significant digits below 10, one
    decimal below 1,000, whole numbers above; a share within [-1, 1] as a
    percentage when ``as_share``."""
    if math.isnan(x):
        return MISSING
    if math.isinf(x):
        return NEVER if x > 0 else "-inf"
    if as_share and abs(x) <= 1.0:
        return share(x)
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"


def money(x: float | None, currency: str = "", digits: int = 0) -> str:
    """An amount with thousands separators and its currency label."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return MISSING
    return f"{x:,.{digits}f} {currency}".rstrip()


# --- shares and unitless measures ---------------------------------------------


def share(x: float | None, digits: int = 1) -> str:
    """A share as a percentage: ``0.934`` is ``93.4%``."""
    if is_missing(x):
        return MISSING
    assert x is not None
    return f"{100 * x:.{digits}f}%"


def confidence_level(confidence: float) -> str:
    """A confidence level as people say it: ``0.9`` is ``90%``, ``0.975`` is ``97.5%``."""
    return f"{100 * confidence:g}%"


def ratio(x: Any, digits: int = 3, missing: str = MISSING) -> str:
    """A unitless measure (AUC, score, F1) with fixed digits; ``missing`` when
    absent or not finite."""
    if x is None or (isinstance(x, numbers.Real) and not math.isfinite(x)):
        return missing
    return f"{x:.{digits}f}"


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


# --- durations and dates ------------------------------------------------------


def hours(h: float | None) -> str:
    """A duration for people: minutes, hours or days; ``never`` for None or infinite."""
    if h is None or (isinstance(h, float) and not math.isfinite(h)):
        return NEVER
    if h < 0:  # a difference: -3.2 h, not -192 min
        return "-" + hours(-h)
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:.1f} h"
    return f"{h / 24:.1f} days"


def seconds(x: float) -> str:
    """A run time for people: ``40 s``, ``12 min``, ``3.5 h``."""
    if x < 60:
        return f"{x:.0f} s"
    if x < 3600:
        return f"{x / 60:.0f} min"
    return f"{x / 3600:.1f} h"


def threshold(h: float) -> str:
    """A time threshold as policies state it: ``24 h``, ``2 days``, ``0.5 h``."""
    if h >= 24 and math.isclose(h % 24, 0):
        d = int(h // 24)
        return f"{d} day" + ("s" if d > 1 else "")
    return f"{h:g} h"


def hours_tick(h: float) -> str:
    """A tick on a time axis: ``30 min``, ``6 h``, ``2 d``."""
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 24 or not math.isclose(h % 24, 0):
        return f"{h:g} h"
    return f"{h / 24:g} d"


def days(x: float) -> str:
    """A number of days, one decimal: ``3.5``."""
    return f"{x:.1f}"


def date(iso: str | None) -> str:
    """An ISO date-time to the minute: ``2021-03-01 12:00``; ``never`` for None."""
    return iso[:16].replace("T", " ") if iso else NEVER


# --- sizes --------------------------------------------------------------------


def size(n: float) -> str:
    """Bytes for people, in powers of 1,000: ``820 kB``, ``56 MB``, ``1.4 GB``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}" if n < 10 * scale else f"{n / scale:,.0f} {unit}"
    return f"{n:.0f} bytes"


# --- intervals ----------------------------------------------------------------


def interval(mean: float, lo: float, hi: float, show: Callable[[float], str]) -> str:
    """``mean (lo to hi)``, each written by ``show``; the mean alone when the
    interval is undefined, ``never`` for an infinite mean."""
    if is_missing(mean):
        return MISSING
    if math.isinf(mean):
        return NEVER
    if is_missing(lo) or is_missing(hi):
        return show(mean)
    return f"{show(mean)} ({span(show(lo), show(hi))})"


_DIRECTIONS: dict[Unit, tuple[str, str]] = {
    "share": ("higher", "lower"),
    "hours": ("longer", "shorter"),
    "number": ("more", "fewer"),
}


def _amount(x: float, metric: str, short: bool = False) -> str:
    """The size of a difference in ``metric``'s unit, without its sign (``short``:
    ``3.2 d`` and ``76.5 pt`` rather than days and points)."""
    unit = metric_unit(metric)
    if metric == "suspended_after_days":
        return f"{abs(x):.1f} " + ("d" if short else "days")
    if unit == "share":
        return f"{100 * abs(x):.1f} " + ("pt" if short else "points")
    if unit == "hours":
        return hours(abs(x))
    return compact(abs(x))


def signed_amount(x: float, metric: str) -> str:
    """A difference, short, with its sign: ``-157 k``, ``+76.5 pt``, ``-3.2 h``, ``0``."""
    if x == 0:
        return "0"
    return ("+" if x > 0 else "-") + _amount(x, metric, short=True)


def _direction(x: float, metric: str) -> str:
    if metric == "suspended_after_days":
        return "later" if x > 0 else "earlier"
    up, down = _DIRECTIONS[metric_unit(metric)]
    return up if x > 0 else down


def _side(x: float, metric: str) -> str:
    """A bound of a difference with its direction: ``5 fewer``, ``no change``."""
    return f"{_amount(x, metric)} {_direction(x, metric)}" if x else "no change"


def change(
    metric: str, mean: float, lo: float, hi: float, base: float | None = None, noun: str = ""
) -> str:
    """A paired difference in plain words: ``153 k fewer harmful views (-77%; 95%
    interval 143 k to 179 k fewer)``; ``no clear change (95% interval 5 fewer to
    13 more)`` when the interval spans zero. ``base`` (the baseline's mean) adds
    the relative change; ``noun`` names what changed."""
    if is_missing(mean):
        return MISSING
    if math.isinf(mean):
        return NEVER
    about = f" in {noun}" if noun else ""
    if mean == 0 and (is_missing(lo) or lo == hi == 0):
        return f"no change{about}"
    known = not (is_missing(lo) or is_missing(hi))
    if not known:
        span_words = "one seed pair"
    elif lo * hi > 0:  # both bounds on one side: "143 k to 179 k fewer"
        near, far = sorted((lo, hi), key=abs)
        span_words = f"95% interval {_amount(near, metric)} to {_side(far, metric)}"
    else:
        span_words = f"95% interval {_side(lo, metric)} to {_side(hi, metric)}"
    if known and lo <= 0 <= hi:
        return f"no clear change{about} ({span_words})"
    relative = ""
    if base is not None and not is_missing(base) and math.isfinite(base) and base > 0:
        r = mean / base
        much = {"share": "as high", "hours": "as long", "number": "as many"}[metric_unit(metric)]
        if metric == "suspended_after_days":
            much = "as long"
        relative = f"{100 * r:+.0f}%; " if abs(r) < 2 else f"{1 + r:,.0f} times {much}; "
    amount = f"{_amount(mean, metric)} {_direction(mean, metric)}"
    said = f"{amount} {noun}" if noun and metric_unit(metric) == "number" else amount
    if noun and metric_unit(metric) != "number":
        said = f"{noun} {amount}"
    return f"{said} ({relative}{span_words})"


def span(lo: str, hi: str) -> str:
    """Two written bounds: ``lo to hi``."""
    return f"{lo} to {hi}"


# --- metrics by name ----------------------------------------------------------


def metric_unit(metric: str) -> Unit:
    """The unit a headline metric is shown in, from its name."""
    if (
        metric.startswith("removed_within_")
        or metric.endswith("_utilisation")
        or metric == "suspended"
    ):
        return "share"
    if metric.endswith("_hours"):
        return "hours"
    return "number"


UNITS: dict[Unit, Callable[[float], str]] = {
    "share": share,
    "hours": hours,
    "number": number,
}
"""How a value in each unit is written."""


def metric_writer(metric: str, short: bool = False) -> Callable[[float], str]:
    """How a finite value of a headline metric is written (``short``: counts as
    ``153 k`` rather than ``153,118``)."""
    if metric == "suspended_after_days":
        return days
    unit = metric_unit(metric)
    return compact if short and unit == "number" else UNITS[unit]


def metric_value(x: Any, metric: str, currency: str = "", short: bool = False) -> str:
    """A headline metric's value (shares as %, durations, counts; costs with
    their currency); ``n/a`` when missing, ``never`` when infinite; ``short``
    as in :func:`metric_writer`."""
    if is_missing(x):
        return MISSING
    x = float(x)
    if math.isnan(x):
        return MISSING
    if math.isinf(x):
        return NEVER
    text = metric_writer(metric, short)(x)
    if metric.startswith("cost_") and currency and text[0].isdigit():
        return f"{text} {currency}"
    return text
