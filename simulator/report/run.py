"""What the report of one run says: its plain-words summary (also the
opening of the run's ``report.md``), figures and tables, from its results
folder."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator.folders.run import RunFolder
from simulator.format import (
    confidence_level,
    counted,
    date,
    is_missing,
    number,
    ratio,
    share,
    threshold,
)
from simulator.metrics.accounts import recall_before_and_after
from simulator.report import plots
from simulator.report.areas import areas_table
from simulator.report.context import DEFAULT_TARGET, Figure, Report, Table
from simulator.report.curves import cdf_xy, fixed, surge_bands

MARKED_EVENTS = {
    "strike": "strike",
    "emergency": "emergency",
    "suspension_notice": "suspension notice",
    "suspension": "suspension",
}


def run_summary_sentences(s: dict[str, Any], target: float = DEFAULT_TARGET) -> list[str]:
    """The plain-words summary of one run (also the Markdown report's opening)."""
    v, e = s["violating"], s["enforcement"]
    out = [_thresholds_sentence(s, target)]
    if e["suspended"]:
        out.append(
            f"Takedown: yes. {e['suspended_by']} suspended the platform on "
            f"{date(e['suspended_at'])}; {number(e['legitimate_posts_up_at_suspension'])} "
            "legitimate posts went dark with it."
        )
        if e.get("why"):
            out.append(f"Why: {e['why']}.")
    elif e["enforcers"]:
        notices = sum(h["notices"] for h in e["enforcers"])
        sent = "was" if notices == 1 else "were"
        out.append(
            f"Takedown: no. The platform was not suspended ({counted(notices, 'notice')} {sent} "
            "sent)."
        )
    else:
        out.append("Takedown: no. The platform was not suspended (no enforcer).")
    out.extend(_other_enforcers(e))
    out.extend(_authors(s))
    wrong = s["legitimate"]["wrongly_removed"]
    were = "was" if wrong == 1 else "were"
    mistakes = f"{counted(wrong, 'legitimate post')} {were} removed by mistake"
    if not s["posts"]["created"]:
        out.append("Trade-off: none to weigh, as no post was made.")
    elif not v["count"]:
        out.append(f"Trade-off: no post violated the rules, so none was seen; {mistakes}.")
    else:
        out.append(
            f"Trade-off: violating posts were seen {number(v['views_before_removal']['total'])} "
            f"times before they came down, {number(v['never_removed'])} of "
            f"{number(v['count'])} were never removed, and {mistakes}."
        )
    return out


def _authors(s: dict[str, Any]) -> list[str]:
    """What the run says of authors beyond account enforcement: the accounts the
    enforcers' notices named, and the prefilter's recall on authors who adapted."""
    out = []
    for h in s["enforcement"]["enforcers"]:
        if "accounts_noticed" in h:
            out.append(
                f"{h['name']}'s notices named {counted(h['accounts_noticed'], 'account')} "
                f"behind {counted(h['posts_noticed'], 'post')}."
            )
    a = s.get("adaptation")
    if a is not None and a["enabled"]:
        before, after = recall_before_and_after(a)
        if not (math.isnan(before) or math.isnan(after)):
            out.append(
                f"Adaptation: the prefilter caught {share(before)} of the violating "
                f"posts of authors with no post removed before, and {share(after)} "
                "of those whose authors had learned from a removal."
            )
    return out


def _other_enforcers(e: dict[str, Any]) -> list[str]:
    """What each enforcer other than the one that suspended the platform did:
    an app store's ultimatum and delisting, another host's notices."""
    out = []
    for h in e["enforcers"]:
        if e["suspended"] and h["name"] == e["suspended_by"]:
            continue
        did = []
        if h["notices"]:
            did.append(f"sent {counted(h['notices'], 'notice')}")
        if h.get("removal_notice_at"):
            did.append(f"gave its final notice on {date(h['removal_notice_at'])}")
        if h.get("removed_at"):
            acted = "delisted the app" if h.get("effect") == "delist" else "suspended the platform"
            did.append(f"{acted} on {date(h['removed_at'])}")
        if h.get("reinstated_at"):
            did.append(f"reinstated it on {date(h['reinstated_at'])}")
        if not did or (did == did[:1] and h["notices"] and len(e["enforcers"]) == 1):
            continue  # nothing done, or only the notices the takedown line counts
        lost = ""
        if h.get("effect") == "delist" and h.get("removed_at"):
            lost = (
                f"; {number(e.get('posts_not_made_while_delisted', 0))} posts were not made "
                "by the users the stores no longer sent"
            )
        out.append(
            f"Also: {h['name']} {', '.join(did[:-1])}{' and ' if len(did) > 1 else ''}"
            f"{did[-1]}{lost}."
        )
    return out


def _thresholds_sentence(s: dict[str, Any], target: float) -> str:
    """Which thresholds the run met and missed, and those it could not measure."""
    v, policy = s["violating"], s["run"]["policy"]
    within = v["within"]
    measured = [w for w in within if not is_missing(w["share"])]
    unmeasured = [threshold(w["threshold_hours"]) for w in within if is_missing(w["share"])]
    if not v["count"]:
        why = "no post was made" if not s["posts"]["created"] else "no post violated the rules"
        return f"Thresholds: {policy} could not be measured against any threshold: {why}."
    if not measured:
        return (
            f"Thresholds: {policy} could not be measured against any threshold: no violating "
            "post was made long enough before the run ended."
        )
    met = [threshold(w["threshold_hours"]) for w in measured if w["share"] >= target]
    missed = [threshold(w["threshold_hours"]) for w in measured if w["share"] < target]
    if met and missed:
        verdict = f"meets {', '.join(met)} but misses {', '.join(missed)}"
    else:
        verdict = f"meets {', '.join(met)}" if met else f"misses {', '.join(missed)}"
    removed = "; ".join(
        f"{share(w['share'])} within {threshold(w['threshold_hours'])}" for w in measured
    )
    not_measured = (
        f" Not measured: {', '.join(unmeasured)} (no violating post was old enough)."
        if unmeasured
        else ""
    )
    return (
        f"Thresholds: {policy} {verdict} (a threshold is met when at least {share(target)} of "
        f"violating posts come down within it). Removed: {removed}.{not_measured}"
    )


def why_rows(e: dict[str, Any]) -> list[list[str]]:
    """Every enforcer rule that fired: when, whose, which rule, its score, each signal
    observed against its threshold, and the platform's figures at that moment."""
    rows = []
    for h in e["enforcers"]:
        for t in h.get("why", []):
            rule = "emergency clause" if t["rule"] == "emergency" else f"strike {t['number']}"
            rows.append(
                [
                    date(t["at"]),
                    str(h["name"]),
                    rule
                    + (
                        " (decisive)"
                        if t["decisive"]
                        else " (scheduled a removal, brought forward later)"
                        if t.get("scheduled")
                        else ""
                    ),
                    f"{t['score']:.2f}",
                    "; ".join(_signal_text(g) for g in t["signals"]),
                    _platform_text(t["platform"]),
                ]
            )
    return rows


def _signal_text(g: dict[str, Any]) -> str:
    show = (lambda x: share(x, 2)) if g["signal"] == "audit_prevalence" else number
    window = f", {threshold(g['window_hours'])}" if g.get("window_hours") else ""
    weight = f" x{g['weight']:g}" if g["weight"] != 1 else ""
    return f"{g['signal']} {show(g['value'])} of {show(g['threshold'])}{weight}{window}"


def _platform_text(p: dict[str, Any]) -> str:
    if not p:
        return ""
    return (
        f"{number(p.get('harmful_views_per_hour'))} harmful views/h; "
        f"{number(p.get('reports_waiting'))} reports waiting (median age "
        f"{number(p.get('median_wait_hours'))} h); "
        f"{number(p.get('violating_posts_up'))} violating posts up"
    )


WHY_COLUMNS = [
    "when",
    "enforcer",
    "rule",
    "score",
    "signals: observed of threshold",
    "platform then",
]


def run_inputs(s: dict[str, Any]) -> list[str]:
    """What a run was made from: scenario, policy, enforcers, seed, files, versions."""
    r = s["run"]
    out = [
        f"Scenario: {r['scenario']}; policy: {r['policy']}; enforcers: "
        f"{', '.join(r['hosts']) or 'none'}; seed {r['seed']}; text mode: {r['text_mode']}; "
        f"{date(r['start'])} to {date(r['end'])} ({r['days_simulated']} days).",
    ]
    inputs = s.get("inputs") or {}
    for f in inputs.get("files", []):
        if f.get("file"):
            out.append(f"{f['kind']} file {f['file']} (sha256 {str(f.get('sha256', ''))[:16]})")
    if inputs.get("versions"):
        out.append("Versions: " + ", ".join(f"{k} {ver}" for k, ver in inputs["versions"].items()))
    line = classifier_line(s)
    if line:
        out.append(line)
    return out


def classifier_line(s: dict[str, Any]) -> str:
    """What scored the run's posts: the card, the trained model, or no prefilter
    (empty for a summary without a classifier section)."""
    c = s.get("classifier") or {}
    if c.get("enabled") and c.get("areas"):
        return (
            f"A prefilter per area ({c.get('score_mode')} scores): "
            + "; ".join(_area_scorer(name, area) for name, area in c["areas"].items())
            + "."
        )
    if c.get("enabled") and c.get("card"):
        card = c["card"]
        named = f' "{card["name"]}"' if card.get("name") else ""
        return (
            f"Classifier card{named} "
            f"({card['form']}; scores drawn from its distributions): ROC-AUC "
            f"{ratio(card.get('roc_auc_on_stream_mix'))} on the stream's expected class mix; "
            f"precision in this run {share((c.get('in_run') or {}).get('precision'))}."
        )
    if c.get("enabled"):
        val = c.get("validation", {})
        return (
            f"Classifier ({c.get('score_mode')} scores): ROC-AUC {ratio(val.get('roc_auc', 0))}, "
            f"average precision {ratio(val.get('average_precision', 0))} on "
            f"{number(val.get('n_validation'))} validation texts{_calibrated(c)}; precision in "
            f"this run {share((c.get('in_run') or {}).get('precision'))}."
        )
    if c:
        return "Classifier: none (this policy has no AI prefilter)."
    return ""


def _area_scorer(name: str, area: dict[str, Any]) -> str:
    """What scores one area's posts: its card, or its text model and how well it ranks."""
    model = area.get("model")
    if model:
        auc = model.get("roc_auc_heldout_template") or model.get("roc_auc")
        return f"{name} by a text model ({model.get('source')}, ROC-AUC {ratio(auc)})"
    return f'{name} by card "{area.get("card")}" ({area.get("form")})'


def _calibrated(c: dict[str, Any]) -> str:
    """The reliability check's verdict, as a clause (nothing for a summary without it)."""
    rel = c.get("reliability")
    if not rel or rel.get("calibrated") is None:
        return ""
    verdict = "within" if rel["calibrated"] else "not within"
    return (
        f", calibrated {verdict} sampling error ({rel['bins_within']} of "
        f"{rel['bins_tested']} score bins inside their {confidence_level(rel['level'])} intervals)"
    )


def _marks_from_events(
    events: Sequence[dict[str, Any]], first_notice: bool = True
) -> list[plots.Mark]:
    marks: list[plots.Mark] = []
    noticed: set[str] = set()
    for e in events:
        kind = str(e["event"])
        if kind == "notice" and first_notice and e["enforcer"] not in noticed:
            noticed.add(str(e["enforcer"]))
            marks.append(plots.Mark(f"first notice ({e['enforcer']})", float(e["hour"]) / 24, 0))
        elif kind in MARKED_EVENTS:
            style = 1 if kind == "strike" else 3
            marks.append(plots.Mark(MARKED_EVENTS[kind], float(e["hour"]) / 24, style))
    return marks


def _thresholds(within: Sequence[dict[str, Any]]) -> list[float]:
    return [float(w["threshold_hours"]) for w in within]


def run_report(folder: RunFolder, target: float = DEFAULT_TARGET) -> Report:
    s = folder.summary
    v = s["violating"]
    rep = Report(
        kind="run",
        title=f"{s['run']['policy']} on {s['run']['scenario']}",
        summary=run_summary_sentences(s, target),
        inputs=run_inputs(s),
        target=target,
    )
    curves = s.get("curves")
    if curves:
        x, y = cdf_xy(curves["latency_cdf"])
        rep.figures.append(
            Figure(
                "fig-latency",
                "How fast violating posts came down",
                "Share of violating posts removed within each time (log scale), among posts "
                "old enough; dashed vertical lines are the thresholds under test.",
                plots.latency_cdf(
                    [plots.Series(s["run"]["policy"], x, y)], _thresholds(v["within"])
                ),
            )
        )
        daily = curves["daily"]
        days = np.asarray(daily["day"], dtype=np.float64) + 0.5
        exposure = [plots.Series("harmful views", days, fixed(daily["harmful_views"]))]
        backlog = [
            plots.Series(
                team,
                folder.backlog.loc[folder.backlog["team"] == team, "hour"].to_numpy() / 24,
                folder.backlog.loc[folder.backlog["team"] == team, "waiting"].to_numpy(),
            )
            for team in folder.teams
        ]
        waited = any(np.nanmax(np.asarray(b.y, dtype=np.float64), initial=0) > 0 for b in backlog)
        bottom = (
            "Bottom: cases waiting for review, hour by hour."
            if waited
            else "No case ever waited for review, so there is no backlog panel."
        )
        rep.figures.append(
            Figure(
                "fig-time",
                "Harmful exposure and backlog over time"
                if waited
                else "Harmful exposure over time",
                f"Top: views of violating posts per day while they were up. {bottom} Hatched "
                "grey: surges. Vertical lines: first notice, strikes, emergency and suspension.",
                plots.over_time(
                    exposure,
                    backlog if waited else [],
                    surge_bands(curves),
                    _marks_from_events(folder.timeline.to_dict("records")),
                    daily["date"],
                ),
            )
        )
    else:
        rep.notes.append(
            "This results folder predates latency curves in summary.json: re-run it for the "
            "latency and time figures."
        )
    if len(s["review"]) > 1:  # one team's bar compares nothing: the teams table has it
        rep.figures.append(
            Figure(
                "fig-utilisation",
                "Reviewer utilisation",
                "Share of the reviewers' available hours spent reviewing, per team.",
                plots.bars(
                    [
                        plots.Point(team, float(r["utilisation"] or 0), 0)
                        for team, r in s["review"].items()
                    ],
                    "busy share of available hours",
                    "Reviewer utilisation per team",
                ),
            )
        )
    rep.tables.append(_thresholds_table(v["within"], target))
    rep.tables.append(
        Table(
            "tab-channels",
            "Violating posts: how they came down",
            ["channel", "posts"],
            [[ch, number(n)] for ch, n in v["removed_by"].items()]
            + [["never removed", number(v["never_removed"])]],
            [False, True],
        )
    )
    rep.tables.append(
        Table(
            "tab-review",
            "Review teams",
            ["team", "cases", "backlog peak", "peak at", "expired", "utilisation", "accuracy"],
            [
                [
                    team,
                    number(r["cases"]),
                    number(r["backlog_max"]),
                    date(r["backlog_max_at"]),
                    number(r["expired"]),
                    share(r["utilisation"]),
                    share(r["decision_accuracy"]),
                ]
                for team, r in s["review"].items()
            ],
            [False, True, True, False, True, True, True],
        )
    )
    if "accounts" in s:  # the policy acts on accounts
        rep.tables.append(_accounts_table(s["accounts"]))
    if "adversaries" in s:  # the scenario has brigades or campaigns
        rep.tables.append(_adversaries_table(s["adversaries"]))
    if "areas" in s:  # the scenario declares its policy areas
        rep.tables.append(areas_table(s["areas"]))
    why = why_rows(s["enforcement"])
    rep.tables.append(
        Table(
            "tab-why",
            "Why the enforcers acted",
            WHY_COLUMNS,
            why,
            [False, False, False, True, False, False],
            note="Each rule fires the moment its score reaches 1: each signal adds its weight x "
            "observed / threshold, at most its weight; the platform's figures are its own "
            "at that moment."
            if why
            else "No enforcer rule fired.",
        )
    )
    tl = folder.timeline
    rep.tables.append(
        Table(
            "tab-timeline",
            "Enforcement timeline",
            ["when", "enforcer", "event", "posts", "detail"],
            [
                [
                    date(str(t["time"])),
                    str(t["enforcer"]),
                    str(t["event"]),
                    str(t["posts"]),
                    "" if is_missing(t["detail"]) else str(t["detail"]),
                ]
                for t in tl.to_dict("records")
            ],
            [False, False, False, True, False],
            note="" if len(tl) else "No enforcement events.",
        )
    )
    return rep


def _thresholds_table(within: Sequence[dict[str, Any]], target: float) -> Table:
    return Table(
        "tab-thresholds",
        "Thresholds compliance",
        [
            "threshold",
            "eligible posts",
            "removed within",
            "breaches",
            "share",
            f"meets {share(target)}",
        ],
        [
            [
                threshold(w["threshold_hours"]),
                number(w["eligible"]),
                number(w["removed_within"]),
                number(w["breaches"]),
                share(w["share"]),
                "n/a" if is_missing(w["share"]) else ("yes" if w["share"] >= target else "no"),
            ]
            for w in within
        ],
        [False, True, True, True, True, False],
        note="Among violating posts created at least that long before the run ended.",
    )


def _accounts_table(a: dict[str, Any]) -> Table:
    """Account enforcement: actions by rung, bans, posts not made, evasion."""
    ttb = a["first_violation_to_ban_hours"]
    rows = [[f"rung {rung}", number(n)] for rung, n in a["actions_by_rung"].items()]
    rows += [
        ["accounts actioned", number(a["accounts_actioned"])],
        ["accounts banned", number(a["banned"])],
        ["legitimate accounts wrongly banned (no violating post)", number(a["wrongly_banned"])],
        [
            "first violation to ban, p50 / p90 (hours)",
            " / ".join("n/a" if ttb[k] is None else f"{ttb[k]:.0f}" for k in ("p50", "p90")),
        ],
        [
            "violating posts not made (blocked accounts)",
            number(a["violating_posts_not_made"]["total"]),
        ],
        ["all posts not made", number(round(sum(a["posts_not_made"].values())))],
        ["posts taken down with their account", number(a["posts_removed_with_account"])],
        [
            "bans appealed / overturned",
            f"{a['ban_appeals']['appealed']} / {a['ban_appeals']['overturned']}",
        ],
        [
            "banned authors back with a new account (by the end)",
            number(a["evasion"]["returned_by_end"]),
        ],
    ]
    return Table(
        "tab-accounts",
        "Accounts: strikes, suspensions, bans",
        ["", "accounts or posts"],
        rows,
        [False, True],
        note="A wrongly banned account made no violating post before its ban. Posts not made: "
        "what suspended and banned accounts would have posted.",
    )


def _adversaries_table(a: dict[str, Any]) -> Table:
    """Brigading (what it cost the queues and legitimate speech) and campaigns."""
    rows: list[list[str]] = []
    if "brigading" in a:
        b = a["brigading"]
        rows += [
            ["brigaded legitimate posts", number(b["brigaded_posts"])],
            ["false reports filed", number(b["false_reports_filed"])],
            ["cases the brigades opened", number(b["cases_opened_by_brigade"])],
            ["brigaded posts wrongly removed", number(b["wrongly_removed"])],
            ["jury decisions swayed to remove", number(b["jury_decisions_swayed"])],
        ]
        for team, q in b["queue_load"].items():
            rows.append(
                [
                    f"{team}: cases / reviewer-hours on brigaded posts",
                    f"{number(q['cases'])} / {number(q['reviewer_hours'])}",
                ]
            )
    if "campaigns" in a:
        c = a["campaigns"]
        rows += [
            ["coordinated campaigns", number(c["campaigns_started"])],
            ["campaign copies made", number(c["copies_made"])],
            ["copies never removed", number(c["copies_never_removed"])],
            ["views of copies before removal", number(c["views_before_removal"])],
            [
                "copies caught by the near-duplicate matcher",
                f"{number(c['caught_by_matcher'])} ({share(c['caught_by_matcher_share'])})"
                if c["matcher"]
                else "no matcher",
            ],
        ]
    return Table(
        "tab-adversaries",
        "Adversaries: brigades and campaigns",
        ["", "posts, cases or hours"],
        rows,
        [False, True],
        note="Brigaded posts are legitimate posts a brigade reported falsely; campaign copies "
        "are violating posts of a coordinated campaign.",
    )
