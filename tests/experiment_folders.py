"""Writes compare and batch results folders in the layout the README documents
(experiment.json, design.csv, cells/<id>.json, cells.csv, results.csv,
summary.csv, differences.csv), from real runs, so report tests do not wait
for the experiments package. Metric names follow that layout."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

import simulator


def metrics(summary: dict[str, Any]) -> dict[str, float]:
    v = summary["violating"]
    count = v["count"]
    out = {
        "violating_posts": float(count),
        "violating_never_removed": float(v["never_removed"]),
        "latency_p50_hours": math.inf
        if v["latency_hours"]["p50"] is None
        else v["latency_hours"]["p50"],
        "latency_p90_hours": math.inf
        if v["latency_hours"]["p90"] is None
        else v["latency_hours"]["p90"],
    }
    for w in v["within"]:
        out[f"removed_within_{w['threshold_hours']:g}h"] = (
            math.nan if w["share"] is None else float(w["share"])
        )
    out["views_before_removal"] = float(v["views_before_removal"]["total"])
    out["wrongful_removals"] = float(summary["legitimate"]["wrongly_removed"])
    for team, r in summary["review"].items():
        out[f"{team}_backlog_max"] = float(r["backlog_max"])
        out[f"{team}_utilisation"] = float(r["utilisation"] or 0.0)
    e = summary["enforcement"]
    out["suspended"] = float(bool(e["suspended"]))
    if e["suspended"]:
        start = dt.datetime.fromisoformat(summary["run"]["start"])
        out["suspended_after_days"] = (
            dt.datetime.fromisoformat(e["suspended_at"]) - start
        ) / dt.timedelta(days=1)
    else:
        out["suspended_after_days"] = math.inf
    return out


def mean_ci(x: np.ndarray) -> dict[str, float]:
    x = x[~np.isnan(x)]
    n, never = len(x), int(np.isinf(x).sum())
    out = {"n": n, "n_never": never}
    if n == 0 or never:
        m = math.nan if n == 0 else math.inf
        return out | {"mean": m, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    if n == 1:
        return out | {"mean": float(x[0]), "std": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    s = float(x.std(ddof=1))
    half = float(sps.t.ppf(0.975, n - 1)) * s / math.sqrt(n)
    m = float(x.mean())
    return out | {"mean": m, "std": s, "ci_low": m - half, "ci_high": m + half}


def write_experiment(
    out: Path,
    kind: str,
    scenario: Any,
    policies: list[Any],
    hosts: list[Any],
    seeds: int,
    sweep: dict[str, list[Any]] | None = None,
) -> Path:
    """Run every policy (x sweep value) x seed and write the folder; ``sweep``
    maps a dotted policy path (e.g. ``jury.pool_size``) to values."""
    from helpers import tweak

    (out / "cells").mkdir(parents=True)
    params = list(sweep or {})
    points = [
        dict(zip(params, vals, strict=True)) for vals in zip(*(sweep or {}).values(), strict=True)
    ] or [{}]
    labels, rows = [], []
    host = " + ".join(h.name for h in hosts) or "none"
    for pol in policies:
        for point in points:
            p = tweak(pol, **{k.replace(".", "__"): v for k, v in point.items()}) if point else pol
            for rep in range(seeds):
                seed = 1000 + rep
                result = simulator.simulate(scenario, p, hosts, seed)
                cid = hashlib.blake2b(
                    f"{pol.name}{point}{seed}".encode(), digest_size=8
                ).hexdigest()
                m = metrics(result.summary)
                lab = {
                    "cell_id": cid,
                    "scenario": scenario.name,
                    "policy": pol.name,
                    "host": host,
                    **point,
                    "replication": rep,
                    "seed": seed,
                }
                labels.append(lab)
                (out / "cells" / f"{cid}.json").write_text(
                    json.dumps(
                        {
                            "cell_id": cid,
                            "status": "ok",
                            "error": None,
                            "metrics": m,
                            "summary": result.summary,
                        },
                        default=str,
                    )
                )
                rows += [lab | {"metric": k, "value": v} for k, v in m.items()]
    (out / "experiment.json").write_text(
        json.dumps(
            {"kind": kind, "name": f"test {kind}", "cells": len(labels), "parameters": params}
        )
    )
    design = pd.DataFrame(labels)
    design.to_csv(out / "design.csv", index=False)
    design.assign(status="ok", error="").to_csv(out / "cells.csv", index=False)
    table = pd.DataFrame(rows)
    table.to_csv(out / "results.csv", index=False)
    group = ["scenario", "policy", "host", *params]
    summary = [
        dict(zip([*group, "metric"], key, strict=True)) | mean_ci(g["value"].to_numpy(dtype=float))
        for key, g in table.groupby([*group, "metric"], sort=False)
    ]
    pd.DataFrame(summary).to_csv(out / "summary.csv", index=False)
    if kind == "compare":
        base = table[table["policy"] == policies[0].name].set_index(["metric", "replication"])[
            "value"
        ]
        diffs = []
        for (pol, metric), g in table[table["policy"] != policies[0].name].groupby(
            ["policy", "metric"], sort=False
        ):
            d = g.set_index(["metric", "replication"])["value"] - base.reindex(
                g.set_index(["metric", "replication"]).index
            )
            d = d.to_numpy(dtype=float)
            d = d[np.isfinite(d)]
            s = mean_ci(d)
            diffs.append(
                {
                    "scenario": scenario.name,
                    "host": host,
                    "policy": pol,
                    "metric": metric,
                    "pairs": len(d),
                    "mean": s["mean"],
                    "ci_low": s["ci_low"],
                    "ci_high": s["ci_high"],
                }
            )
        pd.DataFrame(diffs).to_csv(out / "differences.csv", index=False)
    return out
