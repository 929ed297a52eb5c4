"""Lookups over a comparison's or batch's results folder, by setting: a
:class:`Group` is one scenario x policy x host x sweep point over its
replications; :class:`Experiment` gives each group's statistics, values and
run summaries, and writes a metric's mean with its interval."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.folders.experiment import ExperimentFolder
from simulator.format import MISSING, interval, metric_writer

MAX_LINES = 7
"""Series one figure draws at most; more would not be readable without colour."""


@dataclass(frozen=True)
class Group:
    """One scenario x policy x host x sweep point, over its replications."""

    key: tuple[Any, ...]
    label: str
    labels: dict[str, Any]
    cell_ids: list[str]


class Experiment:
    """Lookups over an experiment folder's tables."""

    def __init__(self, folder: ExperimentFolder) -> None:
        self.folder = folder
        self.columns = ["scenario", "policy", "host", *folder.parameters]
        cells = folder.cells
        varying = [c for c in self.columns if c in cells and cells[c].nunique(dropna=False) > 1]
        # a compare varies only the policy; keep at least the policy in labels
        self.varying = varying or ["policy"]
        self.groups: list[Group] = []
        for key, frame in cells.groupby(self.columns, sort=False, dropna=False):
            labels = dict(zip(self.columns, key, strict=True))
            label = ", ".join(
                str(labels[c]) if c in ("scenario", "policy", "host") else f"{c}={labels[c]}"
                for c in self.varying
            )
            ok = frame[frame["status"] == "ok"]["cell_id"].astype(str).tolist()
            self.groups.append(Group(tuple(key), label, labels, ok))
        self.metrics = list(dict.fromkeys(folder.summary["metric"])) if len(folder.summary) else []

    def stat(self, group: Group, metric: str) -> dict[str, float]:
        s = self.folder.summary
        if "metric" not in s:  # no cell finished
            return {"n": 0, "n_never": 0, "mean": math.nan, "ci_low": math.nan, "ci_high": math.nan}
        mask = s["metric"] == metric
        for c in self.columns:
            mask &= s[c].astype(str) == str(group.labels[c])
        rows = s[mask]
        if not len(rows):
            return {"n": 0, "n_never": 0, "mean": math.nan, "ci_low": math.nan, "ci_high": math.nan}
        return {k: float(rows.iloc[0][k]) for k in ("n", "n_never", "mean", "ci_low", "ci_high")}

    def values(self, group: Group, metric: str) -> np.ndarray:
        t = self.folder.table
        if "metric" not in t:
            return np.empty(0)
        sel = t[(t["metric"] == metric) & t["cell_id"].astype(str).isin(group.cell_ids)]
        return sel["value"].to_numpy(dtype=np.float64)

    def show(self, group: Group, metric: str, short: bool = False) -> str:
        """The metric's mean over seeds with its 95% interval, in its unit
        (counts ``short``: ``153 k`` rather than ``153,118``)."""
        st = self.stat(group, metric)
        n, never = int(st["n"]), int(st["n_never"])
        if n == 0:
            return MISSING
        if never and never < n:
            return f"never in {never} of {n} seeds"
        return interval(st["mean"], st["ci_low"], st["ci_high"], metric_writer(metric, short))

    def summaries(self, group: Group) -> list[dict[str, Any]]:
        return [
            self.folder.run_summaries[c] for c in group.cell_ids if c in self.folder.run_summaries
        ]
