"""Helpers for tests: load bundled files, change fields of frozen models, a
small Optimization document, and an executor that counts (and interrupts) runs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from simulator.config import load_file
from simulator.experiments.executors import Executor, Outcome

ROOT = Path(__file__).resolve().parent.parent

ACCOUNTS_POPULATION: dict[str, Any] = {
    "offender_share": 0.05,
    "offender_post_share": 0.8,
    "evasion": {"share": 0.5, "delay": {"median_days": 1.0, "sigma": 0.5}},
}
"""The authors of the account tests' quick world (fixture ``accounts_world``)."""


def bundled(relative: str) -> Any:
    return load_file(ROOT / relative).model


def tweak(model: Any, **changes: Any) -> Any:
    """A copy of a frozen model with (possibly nested, dotted) fields changed, re-validated."""
    data = model.model_dump()
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return type(model).model_validate(data)


def general_world(days: int = 2, users: float = 20_000, mode: str | None = None) -> Any:
    """The general platform (five policy areas) for ``days`` days of ``users`` users a day,
    in its own score mode or ``mode``: the policy-area tests' world."""
    import simulator
    from simulator.config import Scenario

    overrides: dict[str, Any] = {"days": days}
    if mode is not None:
        overrides["content.texts.mode"] = mode
    sc = simulator.load(ROOT / "scenarios" / "general-platform.yaml", overrides=overrides)
    assert isinstance(sc, Scenario)
    pop = sc.population
    assert pop is not None
    first = pop.daily_active_users[0].model_copy(update={"users": users})
    return sc.model_copy(
        update={"population": pop.model_copy(update={"daily_active_users": [first]})}
    )


def quick_sampled_file(folder: Path, extra: str = "") -> Path:
    """The quick world in scale mode as a file, with ``extra`` YAML appended (e.g. an
    ``accounts:`` block)."""
    world = folder / "world.yaml"
    text = (ROOT / "scenarios/quick.yaml").read_text().replace("mode: text", "mode: sampled")
    world.write_text(text + extra)
    return world


def optimization_doc(**changes: Any) -> dict[str, Any]:
    """A small Optimization document on the quick scenario (scale mode): the
    jury's size against cost and exposure, with a cap on the jury backlog."""
    doc: dict[str, Any] = {
        "kind": "Optimization",
        "version": 1,
        "name": "small jury",
        "scenario": str(ROOT / "scenarios/quick.yaml"),
        "policy": str(ROOT / "policies/jury-only.yaml"),
        "hosts": [str(ROOT / "policies/host-notice-and-strike.yaml")],
        "overrides": {"scenario.content.texts.mode": "sampled", "costs.juror_hourly": 10.0},
        "search": {"jury.pool_size": {"choices": [20, 40, 80, 160, 320, 640]}},
        "objectives": [{"metric": "cost_per_day"}, {"metric": "views_before_removal"}],
        "constraints": ["jury_backlog_max <= 50"],
        "trials": 8,
        "seeds": {"min": 3, "max": 12, "step": 3, "confidence": 0.95},
    }
    doc.update(changes)
    return doc


def write_doc(tmp_path: Path, doc: dict[str, Any], name: str = "opt.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


class Counting(Executor):
    """A serial executor that records the cells it runs and can stop midway
    (raising KeyboardInterrupt, as Ctrl-C would, once ``stop_after`` ran)."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.ran: list[str] = []
        self.stop_after = stop_after

    def run(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome[Any]]:
        for i, item in enumerate(items):
            if self.stop_after is not None and len(self.ran) >= self.stop_after:
                raise KeyboardInterrupt
            self.ran.append(item.cell_id)
            yield Outcome(i, fn(item))


@functools.lru_cache(maxsize=3)
def default_model(seed: int) -> Any:
    """The classifier a run of the quick world with ``seed`` trains (see stages.prefilter),
    once per test session."""
    from simulator.classifier import train_synthetic
    from simulator.seeding import SeedTree

    return train_synthetic(
        SeedTree(seed).rng("classifier"),
        n_per_class=2000,
        languages={"en": 0.8, "fr": 0.2},
        evasion_rate=0.05,
    )


def assert_same_posts(a: Any, b: Any) -> None:
    """Two :class:`~simulator.stream.postlog.PostColumns`-like tables hold the same
    numeric columns (dtype and values) and the same texts."""
    import numpy as np

    for name in a.NUMERIC:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.text == b.text


def random_posts(
    rng: Any,
    first: int,
    n: int,
    *,
    times: dict[str, tuple[float, float]],
    ints: dict[str, tuple[int, int]],
    scored: float | None = None,
    with_text: bool = False,
) -> Any:
    """A random table of posts ``first``.. for the held-table tests: ``times`` maps a
    time column to (share set, hours it spans; the rest inf), ``ints`` a column to its
    range, ``scored`` the share of posts with a score (a read-only column of many
    values; None: no score column)."""
    import numpy as np

    from simulator.stages.platform import PostColumns

    data: dict[str, Any] = {
        "post_id": np.arange(first, first + n),
        "created_at": rng.random(n) * 24,
        "cls": rng.integers(0, 3, n),
        "reach": rng.lognormal(3, 1, n),
    }
    for name, (share, hours) in times.items():
        data[name] = np.where(rng.random(n) < share, rng.random(n) * hours, np.inf)
    for name, (low, high) in ints.items():
        data[name] = rng.integers(low, high, n)
    if scored is not None:
        data["score"] = np.where(rng.random(n) < scored, rng.random(n), np.nan)
    if with_text:
        data["text"] = [f"post {i}" for i in range(first, first + n)]
    return PostColumns.from_columns(data, n, with_text)
