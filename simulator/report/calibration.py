"""What the report of a calibration says: how well the accepted values of the
assumptions reproduce each observed figure, how far each assumption is pinned
down against its prior range, and which figures pull against each other.

One :class:`~simulator.report.context.Report`, rendered twice like every
other (HTML, and its Markdown twin); nothing here re-runs a simulation.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from simulator.folders.calibration import CalibrationResult
from simulator.format import MISSING, share, significant
from simulator.report import plots
from simulator.report.context import Figure, Report, Table
from simulator.report.search_figures import Drawn, draw

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

_TOP = 20
"""Candidates listed in the report (all are in candidates.csv)."""
_CLIP = 6.0
"""Errors beyond this many tolerances are drawn at the edge of the fit figure."""


def _num(x: Any) -> str:
    return MISSING if x is None or (isinstance(x, float) and math.isnan(x)) else significant(x)


def _value(v: Any) -> str:
    """A free field's value as people write it: ``0.00134``, not 0.00134240292843."""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def calibration_sentences(result: CalibrationResult) -> list[str]:
    spec = result.spec
    c = result.candidates
    done = int((c["state"] == "COMPLETE").sum()) if len(c) else 0
    out = [
        f"Calibration '{spec.name}': {done} candidates for {len(spec.free)} free field(s) "
        f"were each run on the same {len(result.seeds)} seed(s) (common random numbers) "
        f"and compared with {len(spec.targets)} observed figures; {result.accepted} "
        f"{'was' if result.accepted == 1 else 'were'} accepted: {result.rule}."
    ]
    trust = spec.weights
    out.append(
        "The distance of a candidate is the sum over targets of weight x (error / "
        f"tolerance)^2, with weights H {trust.H:g}, M {trust.M:g}, L {trust.L:g}."
    )
    for _, r in result.fit.iterrows():
        if result.accepted:
            verdict = "fits" if r["within"] else "does not fit"
            text = (
                f"'{r['target']}' ({r['trust']}): observed {r['observed_text']}; the accepted "
                f"set gives {r['median_text']} ({r['low_text']} to {r['high_text']}), and "
                f"{verdict} within its tolerance."
            )
        else:
            text = (
                f"'{r['target']}' ({r['trust']}): observed {r['observed_text']}; the best "
                f"candidate gives {r['best_text']}."
            )
        out.append(text)
    for _, r in result.ranges.iterrows():
        if result.accepted and not math.isnan(float(r["low"])):
            out.append(
                f"{r['parameter']}: accepted from {_num(r['low'])} to {_num(r['high'])} "
                f"(median {_num(r['median'])}) of the prior {r['prior']}."
            )
    if len(result.tensions):
        out += [str(s) for s in result.tensions["sentence"]]
    elif done:
        out.append("No pair of targets pulls against each other across the candidates.")
    return out


def _fit_table(result: CalibrationResult) -> Table:
    rows = [
        [
            str(r["target"]),
            str(r["measure"]),
            str(r["trust"]),
            str(r["observed_text"]),
            f"{r['tolerance']:g}",
            str(r["median_text"]),
            f"{r['low_text']} to {r['high_text']}",
            str(r["best_text"]),
            ("yes" if r["within"] else "no") if result.accepted else MISSING,
            str(r["source"]),
        ]
        for _, r in result.fit.iterrows()
    ]
    return Table(
        "tbl-fit",
        "Fit per target: observed against the accepted set's simulated median and range",
        [
            "target",
            "measure",
            "trust",
            "observed",
            "tolerance",
            "accepted median",
            "accepted range",
            "best candidate",
            "fits",
            "source",
        ],
        rows,
        [False, False, False, True, True, True, True, True, False, False],
        note="Simulated values are means over the seeds of each candidate; an event's "
        "tolerance is in hours; 'fits' when the accepted median lies within the tolerance.",
    )


def _ranges_table(result: CalibrationResult) -> Table:
    rows = [
        [
            str(r["parameter"]),
            str(r["prior"]),
            _num(r["low"]),
            _num(r["median"]),
            _num(r["high"]),
            share(r["share_of_prior"]) if not math.isnan(float(r["share_of_prior"])) else MISSING,
        ]
        for _, r in result.ranges.iterrows()
    ]
    return Table(
        "tbl-ranges",
        "Accepted ranges of the free fields",
        ["field", "prior", "accepted min", "accepted median", "accepted max", "of the prior"],
        rows,
        [False, False, True, True, True, True],
        note="'Of the prior' is the accepted range's width as a share of the prior's: "
        "small means the targets pin the field down.",
    )


def _tension_table(result: CalibrationResult) -> Table:
    rows = [
        [str(r["first"]), str(r["second"]), f"{r['rho']:.2f}", str(int(r["candidates"]))]
        for _, r in result.tensions.iterrows()
    ]
    return Table(
        "tbl-tensions",
        "Targets that pull against each other",
        ["target", "against", "Spearman rho", "candidates"],
        rows,
        [False, False, True, True],
        note="Spearman correlation of the two targets' signed standardised errors over every "
        "candidate evaluated; listed at -0.5 or below.",
    )


def _candidates_table(result: CalibrationResult) -> Table:
    spec = result.spec
    c = result.candidates
    done = c[c["state"] == "COMPLETE"].sort_values(["distance", "candidate"]).head(_TOP)
    header = ["candidate", *spec.free, "distance", *[t.name for t in spec.targets], "accepted"]
    rows = [
        [
            str(int(r["candidate"])),
            *[_value(r[p]) for p in spec.free],
            _num(r["distance"]),
            *[_num(r[f"{t.name} | error"]) for t in spec.targets],
            "yes" if r["accepted"] else "no",
        ]
        for _, r in done.iterrows()
    ]
    return Table(
        "tbl-candidates",
        f"The best {len(rows)} candidates by distance",
        header,
        rows,
        [True] + [True] * len(spec.free) + [True] * (len(spec.targets) + 1) + [False],
        note="Targets' columns are signed errors in tolerances (simulated minus observed); "
        "candidates.csv lists every candidate with its simulated values.",
    )


def fit_figure(result: CalibrationResult) -> MplFigure:
    """Each target's signed error (in tolerances) in every candidate evaluated:
    the band within tolerance shaded, accepted candidates filled."""
    import matplotlib.pyplot as plt

    spec = result.spec
    c = result.candidates
    done = c[c["state"] == "COMPLETE"] if len(c) else c
    fig, ax = plt.subplots(figsize=(7.0, 0.6 * len(spec.targets) + 1.6))
    ax.axvspan(-1, 1, color="#dddddd", label="within tolerance")
    ax.axvline(0, color="#555555", lw=0.8)
    for k, t in enumerate(spec.targets):
        y = len(spec.targets) - 1 - k
        errors = done[f"{t.name} | error"].astype(float).clip(-_CLIP, _CLIP)
        acc = done["accepted"].astype(bool)
        ax.scatter(
            errors[~acc],
            [y] * int((~acc).sum()),
            marker="x",
            color="#999999",
            label="candidate" if k == 0 else None,
        )
        ax.scatter(
            errors[acc],
            [y] * int(acc.sum()),
            marker="o",
            color=plots.COLOURS[0],
            label="accepted" if k == 0 else None,
        )
    ax.set_yticks(range(len(spec.targets)))
    ax.set_yticklabels([f"{t.name} ({t.trust})" for t in reversed(spec.targets)])
    ax.set_xlim(-_CLIP - 0.5, _CLIP + 0.5)
    ax.set_ylim(-0.6, len(spec.targets) - 0.4)
    ax.set_xlabel(f"simulated minus observed, in tolerances (beyond {_CLIP:g} drawn at the edge)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3, frameon=False)
    return fig


def calibration_figures(result: CalibrationResult) -> dict[str, Drawn]:
    return {"fit": draw(lambda: fit_figure(result), "Fit of every candidate per target")}


def calibration_report(
    result: CalibrationResult, figures: dict[str, Drawn] | None = None
) -> Report:
    spec = result.spec
    rep = Report(
        kind="calibration",
        title=f"modsim calibration: {spec.name}",
        summary=calibration_sentences(result),
        notes=list(result.notes),
    )
    if figures and "fit" in figures:
        rep.figures.append(
            Figure(
                "fig-fit",
                "How close each candidate came to each observed figure",
                "Each target's simulated value (mean over seeds) minus the observed one, in "
                "tolerances, for every candidate evaluated; the shaded band is within "
                "tolerance; filled markers are the accepted candidates.",
                figures["fit"].svg,
                file="fit.png",
            )
        )
    if len(result.fit):
        rep.tables = [_fit_table(result), _ranges_table(result)]
        if len(result.tensions):
            rep.tables.append(_tension_table(result))
        rep.tables.append(_candidates_table(result))
    rep.inputs = [
        f"Scenario {spec.scenario}, policy {spec.policy}, hosts: "
        f"{', '.join(spec.hosts) or 'none'}.",
        f"Overrides: {', '.join(f'{k} = {v}' for k, v in spec.overrides.items()) or 'none'}.",
        f"Seeds: {', '.join(str(s) for s in result.seeds)}; sampler seed {spec.seed}; "
        f"{spec.parallel} candidates proposed at once.",
    ]
    if result.proposals is not None:
        p = result.proposals
        rep.inputs.append(
            f"{p.asked} proposals: {p.evaluated} evaluated, {p.failed} failed, {p.refused} "
            f"refused by the documents' rules, {p.duplicates} repeated."
        )
    return rep
