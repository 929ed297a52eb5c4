"""Experiment design: the cells of a comparison or batch, and how one cell runs.

A *cell* is one run: a scenario, a platform policy, a host setup and a
replication seed. Its id is a hash of exactly that identity (the validated
models and the seed), never a product of loop counters, so:

* the same cell has the same id in every run of a batch, on any executor,
  which is what lets an interrupted batch resume;
* editing an input changes the ids of the cells it affects, so stale results
  are never mistaken for current ones.

Replication ``i`` of base seed ``s`` runs with the seed
``SeedTree(s).child("replication", i)``: independent across replications,
stable, and the same for every policy and host (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.config.batch import set_fields, sweep_target
from simulator.errors import ConfigError
from simulator.folders.experiment import STATUS_FAILED, STATUS_OK, CellResult
from simulator.metrics.accounts import recall_before_and_after
from simulator.seeding import SeedTree

NO_HOST = "none"
"""Label of a host setup with no enforcer."""


def replication_seed(base: int, replication: int) -> int:
    """The seed of replication ``replication`` of base seed ``base``."""
    return SeedTree(base).child("replication", replication).seed


def host_label(hosts: Sequence[HostPolicy]) -> str:
    return " + ".join(h.name for h in hosts) if hosts else NO_HOST


@dataclass(frozen=True)
class Cell:
    """One run of an experiment, with the labels its results carry."""

    cell_id: str
    scenario: Scenario
    policy: PlatformPolicy
    hosts: tuple[HostPolicy, ...]
    replication: int
    seed: int
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def labels(self) -> dict[str, Any]:
        """The columns that identify this cell in result tables."""
        return {
            "cell_id": self.cell_id,
            "scenario": self.scenario.name,
            "policy": self.policy.name,
            "host": host_label(self.hosts),
            **dict(self.params),
            "replication": self.replication,
            "seed": self.seed,
        }


def cell_id(
    scenario: Scenario, policy: PlatformPolicy, hosts: Sequence[HostPolicy], seed: int
) -> str:
    """A stable id from what the run depends on (64 bits of a BLAKE2 hash)."""
    identity = {
        "scenario": scenario.model_dump(mode="json"),
        "policy": policy.model_dump(mode="json"),
        "hosts": [h.model_dump(mode="json") for h in hosts],
        "seed": seed,
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def make_cell(
    scenario: Scenario,
    policy: PlatformPolicy,
    hosts: Sequence[HostPolicy],
    replication: int,
    seed: int,
    params: dict[str, Any] | None = None,
) -> Cell:
    hosts = tuple(hosts)
    return Cell(
        cell_id=cell_id(scenario, policy, hosts, seed),
        scenario=scenario,
        policy=policy,
        hosts=hosts,
        replication=replication,
        seed=seed,
        params=tuple((params or {}).items()),
    )


def _apply(point: dict[str, Any], target: str, model: Any) -> Any:
    values = {p: v for p, v in point.items() if sweep_target(p)[0] == target}
    if not values:
        return model
    try:
        return set_fields(model, values)
    except ConfigError as exc:
        shown = ", ".join(f"{p}={v!r}" for p, v in values.items())
        raise ConfigError(
            f"sweep point {shown} makes {model.name!r} invalid: {exc.message}", field="sweep"
        ) from None


def expand(
    scenarios: Sequence[Scenario],
    policies: Sequence[PlatformPolicy],
    host_sets: Sequence[Sequence[HostPolicy]],
    seeds: int,
    base_seed: int = 0,
    points: Sequence[dict[str, Any]] = ({},),
) -> list[Cell]:
    """Every scenario x policy x host setup x sweep point x replication, in that order.

    Raises ConfigError if two inputs share a name (names label the results)
    or the same run would appear twice.
    """
    for what, items in (
        ("scenarios", scenarios),
        ("policies", policies),
        ("host setups", [host_label(hs) for hs in host_sets]),
    ):
        names = [i if isinstance(i, str) else i.name for i in items]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(
                f"two {what} are named {twice[0]!r}; names label the results, "
                "so give each a distinct `name`"
            )
    seed_of = [replication_seed(base_seed, i) for i in range(seeds)]
    cells: list[Cell] = []
    for sc in scenarios:
        for pol in policies:
            for hosts in host_sets:
                for point in points:
                    sc_p = _apply(point, "scenario", sc)
                    pol_p = _apply(point, "policy", pol)
                    hosts_p = [_apply(point, "host", h) for h in hosts]
                    for i, seed in enumerate(seed_of):
                        cells.append(make_cell(sc_p, pol_p, hosts_p, i, seed, point))
    ids = [c.cell_id for c in cells]
    if len(set(ids)) != len(ids):
        raise ConfigError(
            "the same run appears twice (identical inputs and seed); "
            "remove the duplicate file or sweep value"
        )
    return cells


def run_cell(cell: Cell) -> CellResult:
    """Run one cell. Never raises for a failing run: the error is the result,
    so one bad cell does not lose the others."""
    # Imported here so worker processes pay for the engine only when they run.
    from simulator.api import simulate_summary

    try:
        # the summary alone: an experiment keeps nothing else of a run
        summary = simulate_summary(cell.scenario, cell.policy, cell.hosts, cell.seed)
        metrics = headline_metrics(summary)
    except Exception as exc:
        return CellResult(cell.cell_id, STATUS_FAILED, error=f"{type(exc).__name__}: {exc}")
    return CellResult(cell.cell_id, STATUS_OK, metrics=metrics, summary=summary)


def _value(x: Any) -> float:
    return math.nan if x is None else float(x)


def _latency(x: float | None, count: int) -> float:
    # The summary writes "never" (more than that share stayed up) as null;
    # with no violating posts at all the percentile is undefined instead.
    if x is None:
        return math.inf if count else math.nan
    return float(x)


def headline_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The run's headline figures, flattened to ``name -> number``.

    ``inf`` means "never" (a latency percentile or a suspension that did not
    happen); ``nan`` means undefined (no posts to measure).
    """
    v = summary["violating"]
    lat = v["latency_hours"]
    count = int(v["count"])
    out: dict[str, float] = {
        "posts": float(summary["posts"]["created"]),
        "violating_posts": float(count),
        "violating_removed": float(v["removed"]),
        "violating_never_removed": float(v["never_removed"]),
        "latency_p50_hours": _latency(lat["p50"], count),
        "latency_p90_hours": _latency(lat["p90"], count),
        "latency_p99_hours": _latency(lat["p99"], count),
    }
    for w in v["within"]:
        out[f"removed_within_{w['threshold_hours']:g}h"] = _value(w["share"])
    out["views_before_removal"] = _value(v["views_before_removal"]["total"])
    legit = summary["legitimate"]
    out["wrongful_removals"] = float(legit["wrongly_removed"])
    out["wrongful_removals_per_million"] = _value(legit["wrongly_removed_per_million"])
    for team, r in summary["review"].items():
        out[f"{team}_cases"] = float(r["cases"])
        out[f"{team}_backlog_max"] = float(r["backlog_max"])
        out[f"{team}_wait_p90_hours"] = _value(r["wait_hours"]["p90"])
        out[f"{team}_utilisation"] = _value(r["utilisation"])
    e = summary["enforcement"]
    out["notices"] = float(sum(x["notices"] for x in e["enforcers"]))
    out["strikes"] = float(sum(x["strikes"] for x in e["enforcers"]))
    out["suspended"] = float(bool(e["suspended"]))
    if e["suspended"]:
        start = dt.datetime.fromisoformat(summary["run"]["start"])
        at = dt.datetime.fromisoformat(e["suspended_at"])
        out["suspended_after_days"] = (at - start) / dt.timedelta(days=1)
    else:
        out["suspended_after_days"] = math.inf
    out["legitimate_posts_up_at_suspension"] = float(e["legitimate_posts_up_at_suspension"])
    acc = summary.get("accounts")
    if acc is not None:  # the policy acts on accounts
        out["accounts_actioned"] = float(acc["accounts_actioned"])
        out["accounts_banned"] = float(acc["banned"])
        out["accounts_wrongly_banned"] = float(acc["wrongly_banned"])
        out["violating_posts_not_made"] = float(acc["violating_posts_not_made"]["total"])
        out["first_violation_to_ban_p50_hours"] = _value(acc["first_violation_to_ban_hours"]["p50"])
    for name, a in (summary.get("areas") or {}).items():  # the scenario's own areas
        out[f"{name}_violating_removed"] = float(a["removed"])
        out[f"{name}_latency_p50_hours"] = _latency(a["latency_hours"]["p50"], int(a["count"]))
        out[f"{name}_removed_within_clock"] = _value(a["within_clock"]["share"])
        out[f"{name}_views_before_removal"] = _value(a["views_before_removal"]["total"])
    adv = summary.get("adversaries", {})
    if "brigading" in adv:  # the scenario has report brigades
        b = adv["brigading"]
        out["brigaded_posts"] = float(b["brigaded_posts"])
        out["brigaded_wrongly_removed"] = float(b["wrongly_removed"])
        out["brigade_reviewer_hours"] = sum(
            float(q["reviewer_hours"]) for q in b["queue_load"].values()
        )
    if "campaigns" in adv:  # ... and coordinated campaigns
        c = adv["campaigns"]
        out["campaign_copies"] = float(c["copies_made"])
        out["campaign_copies_never_removed"] = float(c["copies_never_removed"])
        out["campaign_copy_views"] = _value(c["views_before_removal"])
        out["campaign_caught_by_matcher"] = float(c["caught_by_matcher"])
    adapted = summary.get("adaptation")
    if adapted is not None:  # authors followed under a prefilter: its recall on them
        before, after = recall_before_and_after(adapted)
        out["prefilter_recall_authors_unremoved"] = before
        out["prefilter_recall_authors_removed_before"] = after
    return out
