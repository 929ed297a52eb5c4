"""Which levers move an enforcer's decision, and how far: a small one-at-a-time
design around one run.

Each :class:`Lever` names a part of the platform's policy (the jury's size,
its votes per case, the prefilter, the notice desk) and the few variants it is
tried at, as field paths set with
:func:`~simulator.experiments.fields.apply_values`. Every variant runs on the
same seeds as the base (common random numbers: the run's own seed first, then
its replication seeds), as cells of a batch
(:func:`~simulator.experiments.batch.execute_cells`: any executor, resumable
in a results folder). Against the base, seed by seed, each variant says how far
it moved the suspension (hours; a suspension averted counts as moved to the
end of the run), how many seeds it suspended, and how close the rule that
decided the base came (its *progress*: the emergency clause's peak score, the
strike rule's strikes over those needed; 1 when it fired). Levers are ranked by
the mean shift, then the change in seeds suspended, then in progress.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.config import HostPolicy, PlatformPolicy, Scenario
from simulator.config.batch import sweep_target
from simulator.config.loader import load_as
from simulator.errors import ConfigError, ModsimError
from simulator.experiments.batch import BatchResult, Source, execute_cells
from simulator.experiments.design import Cell, make_cell, replication_seed
from simulator.experiments.execution import Execution
from simulator.experiments.fields import apply_point, changes
from simulator.folders.experiment import MANIFEST, read_manifest
from simulator.folders.explain import write_explanation
from simulator.folders.load import RunFolder, load_results

BASE = "base"
"""The lever and variant label of the unchanged run."""


@dataclass(frozen=True)
class Variant:
    """One setting of a lever: a label (``x2``, ``off``) and the field values it sets
    (paths as in a batch sweep: a policy's by default, or ``host.``/``scenario.``)."""

    label: str
    values: dict[str, Any]


Variants = Callable[[PlatformPolicy, Sequence[HostPolicy]], "list[Variant] | str"]
"""A lever's variants for a policy and its enforcers, or why the lever does not apply."""


@dataclass(frozen=True)
class Lever:
    """A named part of the platform's policy and the variants it is tried at."""

    name: str
    description: str
    variants: Variants


def _jury_used(policy: PlatformPolicy) -> str | None:
    """Why the jury lever cannot matter (``None``: it can)."""
    if policy.jury.pool_size == 0:
        return "the policy has no jury (jury.pool_size is 0)"
    teams = [
        policy.appeals.queue,
        policy.notices.sweep.team if policy.notices.sweep.enabled else "",
    ]
    teams += [team for _, team in policy.case_teams()]
    if "jury" not in teams:
        return "no case goes to the jury (reports, prefilter and appeals go elsewhere)"
    return None


def _jury_pool(policy: PlatformPolicy, hosts: Sequence[HostPolicy]) -> list[Variant] | str:
    reason = _jury_used(policy)
    if reason:
        return reason
    n = policy.jury.pool_size
    return [
        Variant("x0.5", {"jury.pool_size": max(1, round(n / 2))}),
        Variant("x2", {"jury.pool_size": 2 * n}),
    ]


def _votes(policy: PlatformPolicy, hosts: Sequence[HostPolicy]) -> list[Variant] | str:
    reason = _jury_used(policy)
    if reason:
        return reason
    jury = policy.jury
    out = []
    for label, votes in (("-1", jury.votes_per_case - 1), ("+1", jury.votes_per_case + 1)):
        if votes < 1:
            continue
        values: dict[str, Any] = {"jury.votes_per_case": votes}
        if jury.votes_to_remove is not None and jury.votes_to_remove > votes:
            values["jury.votes_to_remove"] = votes  # the rule stays possible: all of them
        out.append(Variant(label, values))
    return out


def _notice_desk(policy: PlatformPolicy, hosts: Sequence[HostPolicy]) -> list[Variant] | str:
    hours = policy.notices.response_hours
    if not hosts:
        return "no enforcer sends notices"
    if hours == 0:
        return "notices.response_hours is 0: halving or doubling it changes nothing"
    return [
        Variant("x0.5", {"notices.response_hours": hours / 2}),
        Variant("x2", {"notices.response_hours": hours * 2}),
    ]


def prefilter_lever(card_policy: PlatformPolicy | Source | None = None) -> Lever:
    """The prefilter lever: off if the policy has one; else on, with the prefilter
    section of ``card_policy`` (default: the bundled typical card,
    ``policies/jury-plus-card-typical.yaml``); and with that policy's jury
    order too when it differs (flagged posts first, say)."""

    def variants(policy: PlatformPolicy, hosts: Sequence[HostPolicy]) -> list[Variant] | str:
        if policy.prefilter.enabled:
            return [Variant("off", {"prefilter.enabled": False})]
        source = card_policy if card_policy is not None else DEFAULT_CARD_POLICY
        donor = load_as(source, PlatformPolicy)
        if not donor.prefilter.enabled:
            return f"{donor.name} has no prefilter to turn on"
        section = {"prefilter": donor.prefilter.model_dump()}
        found = [Variant(f"on ({donor.name})", section)]
        if donor.jury.priority != policy.jury.priority:
            # also in the queue order the card's policy was tuned with (flagged posts
            # first under `priority: score`), which can starve user reports
            order = {"jury.priority": donor.jury.priority, **section}
            found.append(Variant(f"on ({donor.name}), jury {donor.jury.priority}", order))
        return found

    return Lever(
        "prefilter",
        "the AI prefilter: off if the policy has one, else on with a bundled card (and "
        "with the card's jury order, when it differs)",
        variants,
    )


DEFAULT_CARD_POLICY = (
    Path(__file__).resolve().parent.parent.parent / "policies" / "jury-plus-card-typical.yaml"
)
"""The policy whose prefilter the prefilter lever turns on (a typical classifier's card)."""

LEVERS: dict[str, Lever] = {
    lever.name: lever
    for lever in (
        Lever("jury-pool", "the jury's size (jury.pool_size halved and doubled)", _jury_pool),
        Lever("votes", "votes per case (jury.votes_per_case one fewer and one more)", _votes),
        prefilter_lever(),
        Lever(
            "notice-desk",
            "the notice desk (notices.response_hours halved and doubled)",
            _notice_desk,
        ),
    )
}
"""The levers ``modsim explain`` tries, by name."""


@dataclass(frozen=True)
class Explanation:
    """What moved the decision: ``table`` has one row per variant (the base first),
    ranked by lever; ``skipped`` says why a lever was left out."""

    table: pd.DataFrame
    skipped: dict[str, str]
    rule: str
    """The rule the ranking follows (``enforcer: rule``): the one that decided most
    base seeds, or without a suspension the one that came closest."""
    seeds: list[int]
    end_hours: float
    batch: BatchResult
    levers: dict[str, str] = field(default_factory=dict)
    """Each lever tried, with its description."""


def choose_levers(
    names: Sequence[str] | None, prefilter_from: PlatformPolicy | Source | None = None
) -> list[Lever]:
    """The levers by name (all of them for ``None``), the prefilter's card taken from
    ``prefilter_from`` if given; ModsimError for an unknown name."""
    known = LEVERS | ({"prefilter": prefilter_lever(prefilter_from)} if prefilter_from else {})
    if names is None:
        return list(known.values())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ModsimError(
            f"unknown lever {unknown[0]!r}; choose from {', '.join(known)} (repeat --lever)"
        )
    return [known[n] for n in dict.fromkeys(names)]


def explain(
    scenario: Scenario | Source,
    policy: PlatformPolicy | Source,
    hosts: Sequence[HostPolicy | Source],
    seed: int = 0,
    seeds: int = 3,
    levers: Sequence[Lever | str] | None = None,
    *,
    prefilter_from: PlatformPolicy | Source | None = None,
    out: Source | None = None,
    force: bool = False,
    execution: Execution | None = None,
    about: dict[str, Any] | None = None,
) -> Explanation:
    """Rank ``levers`` (default: :data:`LEVERS`) by how far each moves the enforcers'
    decision on this scenario, policy and enforcers: every variant and the base on
    the same ``seeds`` seeds (``seed`` first, then its replication seeds).

    The prefilter lever turns on the prefilter of ``prefilter_from`` (a policy; by
    default the bundled typical card's). With ``out``, the cells are kept there as a
    batch (resumable) and the ranking in ``explain.csv`` and ``explain.json`` (with
    ``about``: what it explains)."""
    if seeds < 1:
        raise ModsimError(f"seeds must be at least 1, got {seeds}")
    if not hosts:
        raise ModsimError("no enforcer watched this run: there is no decision to explain")
    sc = load_as(scenario, Scenario)
    pol = load_as(policy, PlatformPolicy)
    hs = [load_as(h, HostPolicy) for h in hosts]
    chosen = [
        lv if isinstance(lv, Lever) else choose_levers([lv], prefilter_from)[0]
        for lv in levers or []
    ]
    chosen = chosen or choose_levers(None, prefilter_from)
    seed_list = [seed, *(replication_seed(seed, i) for i in range(1, seeds))]
    design: list[tuple[str, Variant]] = [(BASE, Variant(BASE, {}))]
    skipped: dict[str, str] = {}
    for lever in chosen:
        found = lever.variants(pol, hs)
        if isinstance(found, str):
            skipped[lever.name] = found
            continue
        design.extend((lever.name, v) for v in found)
    cells: list[Cell] = []
    for name, variant in design:
        try:
            s_v, p_v, h_v = apply_point(sc, pol, hs, variant.values)
        except ConfigError as exc:
            skipped[name] = f"{variant.label} makes the policy invalid: {exc.message}"
            continue
        change = _change(pol, p_v, variant) or "unchanged"
        params = {"lever": name, "variant": variant.label, "change": change}
        cells.extend(make_cell(s_v, p_v, h_v, i, s, params) for i, s in enumerate(seed_list))
    batch, results = execute_cells(
        cells,
        parameters=["lever", "variant", "change"],
        out=out,
        force=force,
        execution=execution,
        manifest={"kind": "batch", "name": f"explain: {pol.name} on {sc.name}"},
    )
    runs = {c.cell_id: r.summary for c, r in zip(cells, results, strict=True) if r.summary}
    per_cell = batch.cells.assign(
        summary=[runs.get(str(c)) for c in batch.cells["cell_id"].astype(str)]
    )
    end = sc.days * 24.0
    base = per_cell[per_cell["lever"] == BASE]
    rule = _decisive_rule([s for s in base["summary"] if s])
    table = _rank(per_cell, rule, end)
    result = Explanation(
        table=table,
        skipped={k: v for k, v in skipped.items() if k not in set(table["lever"])},
        rule=f"{rule[0]}: {rule[1]}" if rule else "",
        seeds=seed_list,
        end_hours=end,
        batch=batch,
        levers={lv.name: lv.description for lv in chosen},
    )
    if out is not None:
        meta = (about or {}) | {
            "scenario": sc.name,
            "policy": pol.name,
            "hosts": [h.name for h in hs],
            "start": sc.local_time(0.0).isoformat(),
            "end_hours": end,
            "seeds": seed_list,
            "rule": result.rule,
            "levers": result.levers,
            "skipped": result.skipped,
        }
        write_explanation(Path(out), table, meta)
    return result


def explain_results(
    results: Source,
    seeds: int = 3,
    levers: Sequence[Lever | str] | None = None,
    *,
    prefilter_from: PlatformPolicy | Source | None = None,
    out: Source | None = None,
    force: bool = False,
    execution: Execution | None = None,
) -> Explanation:
    """:func:`explain` around the run kept in ``results`` (a ``modsim run`` folder):
    its input files (unchanged since the run) and seed; ``out`` defaults to
    ``RESULTS/explain``."""
    root = Path(results)
    kind = read_manifest(root).get("kind") if (root / MANIFEST).is_file() else None
    folder = load_results(results) if kind is None else None
    if not isinstance(folder, RunFolder):
        kind = kind or getattr(folder, "kind", "other")
        raise ModsimError(
            f"{results}: a results folder of kind {kind!r}; explain takes the folder of one "
            "run (`modsim run --out DIR`)"
        )
    inputs = folder.summary.get("inputs") or {}
    files: dict[str, list[Path]] = {}
    for f in inputs.get("files", []):
        if not f.get("file"):
            raise ModsimError(
                f"{folder.path}: the run's {f['kind']} {f.get('name')!r} was given as a model, "
                "not a file, so explain cannot load it again"
            )
        path = Path(f["file"])
        try:
            raw = path.read_bytes()
        except OSError:
            raise ModsimError(
                f"{path}: the run's {f['kind']} file is not there any more (paths are "
                "relative to where `modsim run` was started)"
            ) from None
        if f.get("sha256") and hashlib.sha256(raw).hexdigest() != f["sha256"]:
            raise ModsimError(
                f"{path}: changed since the run (its sha256 differs from summary.json's); "
                "run `modsim run` again to explain the file as it is now"
            )
        files.setdefault(f["kind"], []).append(path)
    if len(files.get("Scenario", [])) != 1 or len(files.get("PlatformPolicy", [])) != 1:
        raise ModsimError(f"{folder.path}: summary.json does not list the run's input files")
    return explain(
        files["Scenario"][0],
        files["PlatformPolicy"][0],
        files.get("HostPolicy", []),
        int(inputs.get("seed", 0)),
        seeds,
        levers,
        prefilter_from=prefilter_from,
        out=out if out is not None else folder.path / "explain",
        force=force,
        execution=execution,
        about={"run": str(folder.path)},
    )


def _change(base: PlatformPolicy, policy: PlatformPolicy, variant: Variant) -> str:
    """``jury.pool_size: 1000 -> 2000``; a whole section set: ``prefilter: off -> on``."""
    plain = [p for p, v in variant.values.items() if not isinstance(v, dict)]
    sections = [
        f"{p}: off -> on" if v.get("enabled") else f"{p}: replaced"
        for p, v in variant.values.items()
        if isinstance(v, dict)
    ]
    policy_paths = [p for p in plain if sweep_target(p)[0] == "policy"]
    others = [f"{p}: {variant.values[p]}" for p in plain if p not in policy_paths]
    return ", ".join([*changes(base, policy, policy_paths), *others, *sections])


def _decisive_rule(summaries: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The (enforcer, rule) that decided most base seeds' suspension; without a
    suspension, the takedown rule that came closest on average."""
    decided = Counter(
        (h["name"], h["decided_by"]["rule"])
        for s in summaries
        for h in s["enforcement"]["enforcers"]
        if s["enforcement"]["suspended"]
        and h["name"] == s["enforcement"]["suspended_by"]
        and h["decided_by"]
    )
    if decided:
        return decided.most_common(1)[0][0]
    scores: dict[tuple[str, str], list[float]] = {}
    for s in summaries:
        for h in s["enforcement"]["enforcers"]:
            if h.get("effect", "takedown") != "takedown":
                continue
            for r in h.get("rules", []):
                scores.setdefault((h["name"], r["rule"]), []).append(_progress(r))
    if not scores:
        return None
    return max(scores, key=lambda k: float(np.mean(scores[k])))


def _progress(rule: dict[str, Any]) -> float:
    """How close a rule came to a removal: 1 once it reached one; the strike rule's
    strikes over those needed; else its peak score."""
    if rule["tripped_at"]:
        return 1.0
    if rule["rule"] == "strike" and int(rule["fired"]):
        return min(1.0, int(rule["fired"]) / int(rule["needed"]))
    return min(1.0, float(rule["peak"]["score"]) / int(rule["needed"]))


Figures = tuple[float, float, float]
"""A cell's hours to suspension (averted: the end), 1 if suspended, the rule's progress."""


def _cell_figures(
    summary: dict[str, Any] | None, rule: tuple[str, str] | None, end: float
) -> Figures:
    """(hours to suspension, averted = ``end``; 1 if suspended; the rule's progress)."""
    if summary is None:
        return math.nan, math.nan, math.nan
    e = summary["enforcement"]
    hours = end
    if e["suspended"]:
        start = dt.datetime.fromisoformat(summary["run"]["start"])
        hours = (dt.datetime.fromisoformat(e["suspended_at"]) - start) / dt.timedelta(hours=1)
    progress = math.nan
    for h in e["enforcers"]:
        for r in h.get("rules", []):
            if rule is not None and (h["name"], r["rule"]) == rule:
                progress = _progress(r)
    return hours, float(bool(e["suspended"])), progress


RANK_COLUMNS = [
    "rank",
    "lever",
    "variant",
    "change",
    "seeds",
    "suspended",
    "suspension_hours_median",
    "shift_hours",
    "abs_shift_hours",
    "averted",
    "brought",
    "progress",
    "progress_shift",
]
"""The columns of :attr:`Explanation.table`."""


def _rank(cells: pd.DataFrame, rule: tuple[str, str] | None, end: float) -> pd.DataFrame:
    figures = {
        str(c["cell_id"]): _cell_figures(c["summary"], rule, end) for c in cells.to_dict("records")
    }
    base_by_seed = {
        int(c["replication"]): figures[str(c["cell_id"])]
        for c in cells[cells["lever"] == BASE].to_dict("records")
    }
    rows = []
    for (lever, variant, change), frame in cells.groupby(
        ["lever", "variant", "change"], sort=False, dropna=False
    ):
        pairs: list[tuple[Figures, Figures]] = []
        for c in frame.to_dict("records"):
            v, b = figures[str(c["cell_id"])], base_by_seed.get(int(c["replication"]))
            if b is not None and not math.isnan(v[0] + b[0]):
                pairs.append((v, b))
        shift = [v[0] - b[0] for v, b in pairs]
        hours = [v[0] for v, _ in pairs if v[1]]
        prog = [v[2] - b[2] for v, b in pairs if not math.isnan(v[2] + b[2])]
        rows.append(
            {
                "lever": lever,
                "variant": variant,
                "change": "" if lever == BASE else change,
                "seeds": len(pairs),
                "suspended": int(sum(v[1] for v, _ in pairs)),
                "suspension_hours_median": float(np.median(hours)) if hours else math.inf,
                "shift_hours": float(np.mean(shift)) if shift else math.nan,
                "abs_shift_hours": float(np.mean(np.abs(shift))) if shift else math.nan,
                "averted": sum(int(b[1] and not v[1]) for v, b in pairs),
                "brought": sum(int(v[1] and not b[1]) for v, b in pairs),
                "progress": float(np.nanmean([v[2] for v, _ in pairs]))
                if pairs and not all(math.isnan(v[2]) for v, _ in pairs)
                else math.nan,
                "progress_shift": float(np.mean(prog)) if prog else math.nan,
            }
        )
    table = pd.DataFrame(rows, columns=RANK_COLUMNS)
    base_n = table.loc[table["lever"] == BASE, "suspended"]
    base_k = int(base_n.iloc[0]) if len(base_n) else 0
    # Per lever, its strongest variant: mean |shift|, then seeds suspended, then progress.
    effect = {}
    for lever, frame in table[table["lever"] != BASE].groupby("lever", sort=False):
        effect[lever] = max(
            (
                float(np.nan_to_num(r["abs_shift_hours"])),
                abs(int(r["suspended"]) - base_k),
                abs(float(np.nan_to_num(r["progress_shift"]))),
            )
            for r in frame.to_dict("records")
        )
    order = sorted(effect, key=lambda lv: effect[lv], reverse=True)
    table["rank"] = [0 if lv == BASE else order.index(lv) + 1 for lv in table["lever"]]
    return table.sort_values("rank", kind="stable").reset_index(drop=True)


__all__ = [
    "LEVERS",
    "Explanation",
    "Lever",
    "Variant",
    "choose_levers",
    "explain",
    "explain_results",
]
