"""Two results folders side by side: what changed in their inputs, and what
that did to every headline figure (``modsim diff A B``).

A folder is a set of runs, each a *setting* (scenario, policy, enforcers and
any sweep point) on a seed: a run's folder holds one, a comparison's or
batch's many. Settings are matched by their labels; when a folder holds a
single setting it is matched with the other's single setting whatever their
labels (the usual case: the same command before and after a change to a
file). For a matched pair, every headline metric's mean over seeds is shown
for A and B. When both ran the same seeds, the change is *paired*, seed by
seed, with its 95% interval (the same post streams, so the difference comes
from the inputs that changed); otherwise it is the difference of the means,
without an interval, and the table says so.

What changed in the inputs comes from the documents each run recorded in its
summary (``inputs.documents``): field by field, with A's and B's values.
Folders written before runs recorded their documents fall back to the files'
names and SHA-256 hashes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.errors import ModsimError
from simulator.experiments.design import headline_metrics
from simulator.experiments.stats import mean_ci
from simulator.folders.experiment import ExperimentFolder
from simulator.folders.load import load_results
from simulator.folders.run import RunFolder


@dataclass(frozen=True)
class Setting:
    """One setting of a folder: its label and each seed's run summary."""

    label: str
    runs: dict[int, dict[str, Any]]
    """Run summary by seed."""


@dataclass(frozen=True)
class ResultsDiff:
    """What :func:`diff_results` found.

    ``inputs``: one row per input field that differs (``setting``, ``document``,
    ``field``, ``a``, ``b``). ``figures``: one row per matched setting and
    headline metric (``setting``, ``metric``, ``a``, ``b``, ``difference``,
    ``ci_low``, ``ci_high``, ``pairs``: seeds paired, 0 when unpaired).
    ``notes``: settings found in one folder only, seeds that differ.
    """

    a: Path
    b: Path
    inputs: pd.DataFrame
    figures: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def settings(path: str | Path) -> dict[str, Setting]:
    """A results folder's settings, by label (ModsimError for other kinds)."""
    folder = load_results(path)
    if isinstance(folder, RunFolder):
        s = folder.summary
        r = s["run"]
        label = ", ".join([str(r["scenario"]), str(r["policy"]), *map(str, r["hosts"])])
        return {label: Setting(label, {int(r["seed"]): s})}
    if isinstance(folder, ExperimentFolder):
        columns = ["scenario", "policy", "host", *folder.parameters]
        out: dict[str, Setting] = {}
        cells = folder.cells[folder.cells["cell_id"].astype(str).isin(folder.run_summaries)]
        for key, frame in cells.groupby(columns, sort=False, dropna=False):
            labels = dict(zip(columns, key, strict=True))
            label = ", ".join(
                str(labels[c]) if c in ("scenario", "policy", "host") else f"{c}={labels[c]}"
                for c in columns
            )
            runs = {
                int(row["seed"]): folder.run_summaries[str(row["cell_id"])]
                for _, row in frame.iterrows()
            }
            out[label] = Setting(label, runs)
        return out
    raise ModsimError(
        f"{path}: a {folder.kind} folder; `modsim diff` compares the folders of `modsim run`, "
        "`compare` and `batch`"
    )


def diff_results(a: str | Path, b: str | Path) -> ResultsDiff:
    """Folder ``a`` against folder ``b``: inputs that changed and every headline figure."""
    sa, sb = settings(a), settings(b)
    notes: list[str] = []
    pairs = list(_matched(sa, sb, notes))
    if not pairs:
        raise ModsimError(
            f"{a} and {b} share no setting to compare (settings are matched by scenario, "
            "policy, enforcers and sweep point; a folder with one setting matches any one)"
        )
    inputs = pd.DataFrame(
        _once_for_all(pairs, [row for x, y in pairs for row in _input_changes(x, y)]),
        columns=["setting", "document", "field", "a", "b"],
    )
    figures = pd.DataFrame(
        [row for x, y in pairs for row in _figure_changes(x, y, notes)],
        columns=["setting", "metric", "a", "b", "difference", "ci_low", "ci_high", "pairs"],
    )
    return ResultsDiff(Path(a), Path(b), inputs, figures, notes)


def _matched(
    sa: dict[str, Setting], sb: dict[str, Setting], notes: list[str]
) -> Iterator[tuple[Setting, Setting]]:
    if len(sa) == 1 and len(sb) == 1:
        yield next(iter(sa.values())), next(iter(sb.values()))
        return
    for label, x in sa.items():
        if label in sb:
            yield x, sb[label]
        else:
            notes.append(f"only in A: {label}")
    notes.extend(f"only in B: {label}" for label in sb if label not in sa)


def _name(x: Setting, y: Setting) -> str:
    return x.label if x.label == y.label else f"{x.label} -> {y.label}"


def _figure_changes(x: Setting, y: Setting, notes: list[str]) -> Iterator[dict[str, Any]]:
    seeds = sorted(set(x.runs) & set(y.runs))
    paired = bool(seeds) and set(x.runs) == set(y.runs)
    name = _name(x, y)
    if not paired:
        notes.append(
            f"{name}: A ran seeds {sorted(x.runs)}, B seeds {sorted(y.runs)}: "
            "differences of the means, without intervals"
        )
    ha = {seed: headline_metrics(s) for seed, s in x.runs.items()}
    hb = {seed: headline_metrics(s) for seed, s in y.runs.items()}
    metrics = [m for m in next(iter(ha.values())) if any(m in h for h in hb.values())]
    for m in metrics:
        va = np.array([h.get(m, math.nan) for h in ha.values()], dtype=np.float64)
        vb = np.array([h.get(m, math.nan) for h in hb.values()], dtype=np.float64)
        row: dict[str, Any] = {"setting": name, "metric": m, "a": _mean(va), "b": _mean(vb)}
        if paired:
            d = np.array([hb[s].get(m, math.nan) - ha[s].get(m, math.nan) for s in seeds])
            both = np.isfinite(d)
            ci = mean_ci(d[both])
            row |= {
                "difference": ci["mean"],
                "ci_low": ci["ci_low"],
                "ci_high": ci["ci_high"],
                "pairs": int(both.sum()),
            }
        else:
            diff = row["b"] - row["a"]
            row |= {"difference": diff, "ci_low": math.nan, "ci_high": math.nan, "pairs": 0}
        yield row


def _mean(values: np.ndarray) -> float:
    """The mean over seeds; ``inf`` ("never") if any seed never got there."""
    values = values[~np.isnan(values)]
    if not len(values):
        return math.nan
    return math.inf if np.isinf(values).any() else float(values.mean())


EVERY_SETTING = "every setting"
"""The setting named by an input change that every matched setting shares."""


def _once_for_all(
    pairs: list[tuple[Setting, Setting]], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Changes every matched setting shares (another package version, a changed
    scenario field under a sweep) listed once, for :data:`EVERY_SETTING`."""
    if len(pairs) < 2:
        return rows
    seen: dict[str, set[str]] = {}
    for row in rows:
        seen.setdefault(_change_key(row), set()).add(row["setting"])
    shared = {k for k, v in seen.items() if len(v) == len(pairs)}
    out: list[dict[str, Any]] = []
    for row in rows:
        key = _change_key(row)
        if key not in shared:
            out.append(row)
        elif key in seen:  # the first of a shared change stands for all
            del seen[key]
            out.append({**row, "setting": EVERY_SETTING})
    return out


def _change_key(row: dict[str, Any]) -> str:
    return repr((row["document"], row["field"], row["a"], row["b"]))


def _input_changes(x: Setting, y: Setting) -> Iterator[dict[str, Any]]:
    name = _name(x, y)
    ia = next(iter(x.runs.values())).get("inputs") or {}
    ib = next(iter(y.runs.values())).get("inputs") or {}
    da, db = ia.get("documents"), ib.get("documents")
    if da is not None and db is not None:
        for kind, a_doc, b_doc in _paired_documents(da, db):
            for path, va, vb in _field_changes(a_doc, b_doc):
                yield {"setting": name, "document": kind, "field": path, "a": va, "b": vb}
    else:  # folders from before runs recorded their documents
        fa = {f"{f['kind']} {f.get('name')}": f.get("sha256") for f in ia.get("files", [])}
        fb = {f"{f['kind']} {f.get('name')}": f.get("sha256") for f in ib.get("files", [])}
        for doc in dict.fromkeys([*fa, *fb]):
            if fa.get(doc, _ABSENT) != fb.get(doc, _ABSENT):
                yield {
                    "setting": name,
                    "document": doc,
                    "field": "sha256",
                    "a": fa.get(doc, _ABSENT),
                    "b": fb.get(doc, _ABSENT),
                }
    va, vb = ia.get("versions") or {}, ib.get("versions") or {}
    for pkg in dict.fromkeys([*va, *vb]):
        if va.get(pkg) != vb.get(pkg):
            yield {
                "setting": name,
                "document": "versions",
                "field": pkg,
                "a": va.get(pkg, _ABSENT),
                "b": vb.get(pkg, _ABSENT),
            }


def _paired_documents(
    da: list[dict[str, Any]], db: list[dict[str, Any]]
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The documents of A and B in pairs: the scenario with the scenario, the policy
    with the policy, the i-th enforcer with the i-th (a missing one is empty)."""
    for i in range(max(len(da), len(db))):
        a_doc = da[i] if i < len(da) else {}
        b_doc = db[i] if i < len(db) else {}
        kind = str(a_doc.get("kind") or b_doc.get("kind"))
        names = {str(d["name"]) for d in (a_doc, b_doc) if d.get("name") is not None}
        yield f"{kind} {' / '.join(sorted(names))}".strip(), a_doc, b_doc


_ABSENT = "(not set)"


def _field_changes(a: Any, b: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Every leaf that differs between two documents, by dotted path (list items by index)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in dict.fromkeys([*a, *b]):
            sub = f"{path}.{key}" if path else str(key)
            yield from _field_changes(a.get(key, _ABSENT), b.get(key, _ABSENT), sub)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _field_changes(x, y, f"{path}.{i}")
    elif a != b:
        yield path, a, b
