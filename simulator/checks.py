"""Checks that need a scenario and a policy together, before anything runs.

Each document is validated on its own when it is loaded (types, ranges,
thresholds in order, surges inside the scenario). Some configurations only
stop making sense in combination: a jury with no juror ever on duty in the
scenario's daily rhythm, a platform that answers notices after the host's
deadline. :func:`check_run` finds them and says, with the numbers, what is
wrong and how to fix it (with :func:`check_scenario`, which needs no policy:
a scenario whose world has no posts):

* ``error``: the run cannot mean anything; the CLI refuses it (exit code 2);
* ``warning``: merely suspicious, e.g. a review team that can never keep up
  with the reports the scenario produces at its peak. The run goes ahead and
  the warning is printed and recorded.

The load estimate is closed form (no simulation): a post of class ``c`` gets
``Poisson(rate_c * reach)`` reports over its life, with log-normal reach, so
the chance it reaches ``reports_to_queue`` reports is an expectation over the
reach distribution, computed by Gauss-Hermite quadrature.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from pydantic import BaseModel

from simulator.config.card import ClassifierCard
from simulator.config.common import per_class, per_class_problems
from simulator.config.describe import Path_, format_path, line_for
from simulator.config.host import NOTICE_SIGNALS, HostPolicy
from simulator.config.loader import Loaded
from simulator.config.policy import PlatformPolicy
from simulator.config.scenario import Scenario
from simulator.errors import ConfigError
from simulator.queueing import TeamSpec
from simulator.stages.jury import jurors_on_duty
from simulator.stages.staff import staff_team
from simulator.stream.synthetic import _interp_users, hourly_class_probs, hourly_rates
from simulator.taxonomy import TEXT_MODELS_DEFAULT_ONLY, Taxonomy

Level = Literal["error", "warning"]
M = TypeVar("M", bound=BaseModel)

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(48)
_WEIGHTS = _WEIGHTS / math.sqrt(2.0 * math.pi)  # expectation over a standard normal


@dataclass(frozen=True)
class Finding:
    """One problem found in a combination of documents."""

    level: Level
    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: " + (f"{self.field}: " if self.field else "") + self.message

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "message": self.message,
        }


@dataclass(frozen=True)
class TeamLoad:
    """Cases a review team receives from user reports, against what it can decide."""

    team: str
    capacity_per_hour: float
    """Cases decided per hour, averaged over the day (on-duty reviewers x votes
    per hour / votes per case)."""
    peak_per_hour: float
    """Cases opened per hour by user reports, averaged over the busiest 24 hours."""
    peak_start_hour: float
    """Simulation hour at which that busiest 24-hour window starts."""

    @property
    def utilisation(self) -> float:
        if self.capacity_per_hour <= 0:
            return math.inf
        return self.peak_per_hour / self.capacity_per_hour


class _Doc:
    """A model with where it came from (when it came from a file)."""

    def __init__(self, obj: Any) -> None:
        if isinstance(obj, Loaded):
            self.model: Any = obj.model
            self.file: str | None = str(obj.path)
            self.lines = obj.lines
        else:
            self.model = obj
            self.file = None
            self.lines = {}

    def finding(self, level: Level, field: str, message: str) -> Finding:
        return self.at(level, tuple(field.split(".")), message)

    def at(self, level: Level, path: Path_, message: str) -> Finding:
        """A finding at a path of YAML keys (a key may hold dots: ``sweep``'s paths)."""
        return Finding(level, message, self.file, line_for(path, self.lines), format_path(path))


def report_probability(scenario: Scenario, policy: PlatformPolicy) -> np.ndarray:
    """Per class: the chance a post gets ``reports_to_queue`` reports over its life.

    Ignores removals before that (by the prefilter or a review), so it is an
    upper bound on the share of posts that open a case through reports.
    """
    k = policy.reports.reports_to_queue
    per_view = (
        np.asarray(per_class(scenario.audience.reports_per_1000_views, scenario.taxonomy)) / 1000.0
    )
    per_view = per_view * (
        1.0 - np.asarray(per_class(scenario.audience.sympathy, scenario.taxonomy))
    )
    median = np.asarray(per_class(scenario.reach.median_views, scenario.taxonomy))
    # Mean reports for each class (rows) at each quadrature node (columns).
    with np.errstate(over="ignore"):
        mean = (per_view * median)[:, None] * np.exp(scenario.reach.sigma * _NODES)[None, :]
    from scipy import stats  # here: scipy.stats costs a third of a second to import

    p = stats.poisson.sf(k - 1, np.minimum(mean, 1e15))
    return np.asarray(p @ _WEIGHTS, dtype=np.float64)


def hourly_load(
    scenario: Scenario, policy: PlatformPolicy, team: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per simulated hour: cases user reports open in ``team``'s queue (default:
    ``reports.review_team``; by the posts' creation hour, an upper bound as in
    :func:`report_probability`) and cases the team can decide (on-duty reviewers x
    votes per hour / votes per case)."""
    team = team or policy.reports.review_team
    if team == "jury":
        jury = policy.jury
        servers = np.rint(jurors_on_duty(jury, scenario))
        # first-k-agree may stop before votes_per_case: this is the lower bound
        capacity = servers * jury.reviews_per_hour / jury.votes_per_case
    else:
        spec: TeamSpec = staff_team(policy.staff, scenario)
        capacity = spec.servers * (60.0 / spec.review_minutes) / spec.votes_per_case
    routed = np.array(policy.reports.teams_by_class(scenario.taxonomy)) == team
    per_post = report_probability(scenario, policy) * routed
    cases = hourly_rates(scenario) * (hourly_class_probs(scenario) @ per_post)
    if not policy.reports.enabled:
        cases = np.zeros_like(cases)
    return cases, capacity.astype(np.float64)


def team_loads(scenario: Scenario, policy: PlatformPolicy) -> list[TeamLoad]:
    """Report-driven load on each team that user reports go to."""
    if not policy.reports.enabled:
        return []
    out = []
    for team in dict.fromkeys(policy.reports.teams_by_class(scenario.taxonomy)):
        cases, capacity = hourly_load(scenario, policy, team)
        window = min(24, len(cases))
        kernel = np.ones(window) / window
        rolling = np.convolve(cases, kernel, mode="valid")
        peak_at = int(np.argmax(rolling))
        cap = float(np.convolve(capacity, kernel, mode="valid")[peak_at])
        out.append(TeamLoad(team, cap, float(rolling[peak_at]), float(peak_at)))
    return out


def check_run(
    scenario: Scenario | Loaded[Scenario],
    policy: PlatformPolicy | Loaded[PlatformPolicy],
    hosts: Sequence[HostPolicy | Loaded[HostPolicy]] = (),
) -> list[Finding]:
    """Everything wrong or suspicious about running ``policy`` on ``scenario``.

    Pass :class:`~simulator.config.Loaded` documents to have findings point
    at file and line; plain models work too. Errors come first.
    """
    sc, pol = _Doc(scenario), _Doc(policy)
    hs = [_Doc(h) for h in hosts]
    classes = _classes(sc, pol)
    if any(f.level == "error" for f in classes):  # the teams' load needs every class's value
        return check_scenario(scenario) + classes
    out = check_scenario(scenario) + _model_file(pol) + _teams(sc, pol) + _hosts(sc, pol, hs)
    out += _accounts(sc, pol, hs) + classes
    return sorted(out, key=lambda f: f.level != "error")


def check_scenario(scenario: Scenario | Loaded[Scenario]) -> list[Finding]:
    """What is wrong with a scenario whatever the policy: an empty world.

    A synthetic stream with (about) no posts would run and report nothing
    without saying why: 0 daily active users, users only before or after the
    run, or too few to post even once.
    """
    sc = _Doc(scenario)
    s: Scenario = sc.model
    inert = _inert_account_fields(sc)
    if s.population is None:
        return inert  # a replayed log brings its own posts
    out = inert + _corpus(sc)
    expected = float(hourly_rates(s).sum())
    if expected >= 1.0:
        return out
    hours = np.arange(int(s.hours), dtype=np.float64) + 0.5
    peak = float(_interp_users(s, hours).max())
    return [
        *out,
        sc.finding(
            "error",
            "population.daily_active_users",
            f"the world is empty: at most {peak:,.4g} daily active users during the run "
            f"({s.start:%Y-%m-%d} for {s.days} day(s)) x "
            f"{s.population.posts_per_user_per_day:g} posts per user per day gives about "
            f"{expected:.2g} posts, so a run would measure nothing; give the population "
            "users on dates within the run",
        ),
    ]


def _inert_account_fields(sc: _Doc) -> list[Finding]:
    """Account fields that nothing reads: a scenario that gives one a value of its own
    is told so, since a user who changes them would expect some result to move."""
    accounts = sc.model.accounts
    if accounts is None:
        return []
    return [
        sc.finding(
            "warning",
            f"accounts.{name}",
            f"{name} has no effect (deprecated): no result of a run depends on it, as "
            "accounts fall into follower tiers by rank and account age is not modelled; "
            "delete it",
        )
        for name in accounts.INERT_FIELDS
        if getattr(accounts, name) != _field_default(accounts, name)
    ]


def _corpus(sc: _Doc) -> list[Finding]:
    """In text mode every synthetic post gets a text of its own class: the corpus must
    have templates for each class the scenario declares (the default five it has)."""
    s: Scenario = sc.model
    if s.taxonomy.is_default or s.content.texts.mode != "text":
        return []
    from simulator.stream.texts import corpus_gaps

    gaps = corpus_gaps(tuple(s.content.texts.languages), s.taxonomy)
    if gaps is None:
        return []
    return [
        sc.finding("error", "content.texts.mode", f"'text' gives every post a text, but {gaps}")
    ]


def raise_errors(findings: Sequence[Finding]) -> None:
    """Raise a ConfigError for the first error finding, mentioning the others."""
    errors = [f for f in findings if f.level == "error"]
    if not errors:
        return
    first = errors[0]
    more = "".join(f"\n  also: {f}" for f in errors[1:])
    raise ConfigError(first.message + more, file=first.file, line=first.line, field=first.field)


def _accounts(sc: _Doc, pol: _Doc, hosts: Sequence[_Doc]) -> list[Finding]:
    """Account enforcement, and a host weighing repeat violators, need authors: the
    scenario's ``accounts:``, or a replayed log's author column."""
    s: Scenario = sc.model
    logged = s.stream.names_authors
    out = []
    where = sc.file or s.name
    for h in hosts:
        host: HostPolicy = h.model
        for path, signals in host.signal_rules():
            if signals.repeat_violators_active is None or s.accounts is not None or logged:
                continue
            out.append(
                h.finding(
                    "error",
                    f"{path}.repeat_violators_active",
                    f"the host weighs repeat violators (accounts named in its notices) but "
                    f"the scenario ({where}) has no `accounts:` section describing who posts"
                    + (" and its log maps no author column" if s.stream.is_file else "")
                    + ": add one, or remove this signal",
                )
            )
    if not pol.model.accounts.enabled or s.accounts is not None or logged:
        return out
    if s.stream.is_file:
        out.append(
            pol.finding(
                "error",
                "accounts.enabled",
                f"the policy acts on accounts but the replayed log of the scenario ({where}) "
                "names no authors: map its author column in stream.columns.author, or set "
                "accounts.enabled: false",
            )
        )
        return out
    out.append(
        pol.finding(
            "error",
            "accounts.enabled",
            f"the policy acts on accounts but the scenario ({where}) has no "
            "`accounts:` section describing who posts: add one (scenarios/parler-like.yaml "
            "has an example) or set accounts.enabled: false",
        )
    )
    return out


def _policy_maps(p: PlatformPolicy) -> list[tuple[str, ...]]:
    """The policy's per-class maps a run reads (a team it has, account enforcement on)."""
    out: list[tuple[str, ...]] = []
    if p.jury.pool_size > 0:
        out.append(("jury", "accuracy"))
        if p.jury.population is not None:
            out.append(("jury", "population", "sympathy"))
    if p.staff.reviewers > 0:
        out.append(("staff", "accuracy"))
    if p.appeal_team() == "appeals":
        out.append(("appeals", "accuracy"))
    if p.accounts.enabled:
        out.append(("accounts", "strike_weight"))
    return out


def _field_default(model: BaseModel, name: str) -> Any:
    info = type(model).model_fields[name]
    return info.get_default(call_default_factory=True)


def _classes(sc: _Doc, pol: _Doc) -> list[Finding]:
    """The policy's per-class settings against the scenario's classes and areas: a
    class the scenario lacks (where the user wrote it), a class with no value and
    no `default`, a card that does not cover every class, a text model for classes
    it never learnt."""
    tax = sc.model.taxonomy
    p: PlatformPolicy = pol.model
    out: list[Finding] = []
    for path in _policy_maps(p):
        owner: Any = p
        for part in path[:-1]:
            owner = getattr(owner, part)
            if owner is None:
                break
        if owner is None:
            continue
        mapping = getattr(owner, path[-1])
        # a default names the default classes and has a `default`: only what a user wrote
        strict = mapping != _field_default(owner, path[-1])
        for key, message in per_class_problems(mapping, tax, strict_keys=strict):
            where = (*path, key) if key is not None else path
            out.append(pol.at("error", where, message))
    for name in p.reports.areas or {}:
        if name not in tax.area_names:
            out.append(pol.at("error", ("reports", "areas", name), _no_area(name, tax)))
    pre = p.prefilter
    if not (pre.enabled or p.notices.sweep.enabled):
        return out
    if pre.areas is not None:
        for name, screen in pre.areas.items():
            where = ("prefilter", "areas", name)
            if name not in tax.area_names:
                out.append(pol.at("error", where, _no_area(name, tax)))
                continue
            area = tax.areas[tax.area_index(name)]
            if screen.card is not None:
                out += _card_findings(pol, screen.card, area.classes, tax, (*where, "card"))
            elif screen.model is not None and screen.model.source == "synthetic":
                from simulator.stream.texts import corpus_gaps

                gaps = corpus_gaps(tuple(sc.model.content.texts.languages), tax)
                if gaps:
                    out.append(pol.at("error", (*where, "model", "source"), gaps))
    elif pre.model.source == "card" and pre.model.card is not None:
        out += _card_findings(
            pol, pre.model.card, tax.violating_classes, tax, ("prefilter", "model", "card")
        )
    elif not tax.is_default:
        out.append(pol.at("error", ("prefilter", "model", "source"), TEXT_MODELS_DEFAULT_ONLY))
    return out


def _card_findings(
    pol: _Doc,
    card: ClassifierCard,
    positive: Sequence[str],
    tax: Taxonomy,
    where: tuple[str, ...],
) -> list[Finding]:
    out = []
    for message in card.problems(positive, tax.classes):
        head = message.partition(" ")[0]  # each message starts with its field
        out.append(pol.at("error", (*where, *head.split(".")), message))
    return out


def _no_area(name: str, tax: Taxonomy) -> str:
    return f"the scenario has no area {name!r}; its areas are {', '.join(tax.area_names)}"


def _model_file(pol: _Doc) -> list[Finding]:
    """A missing model file: found before the results folder is touched, not mid-run."""
    ref = pol.model.prefilter.model
    if not pol.model.prefilter.enabled or ref.source != "file" or ref.path is None:
        return []
    if Path(ref.path).is_file():
        return []
    return [
        pol.finding(
            "error",
            "prefilter.model.path",
            f"model file {ref.path} not found (paths are relative to the policy file); "
            "train one with the classifier commands or use `source: synthetic`",
        )
    ]


def _teams(sc: _Doc, pol: _Doc) -> list[Finding]:
    s: Scenario = sc.model
    p: PlatformPolicy = pol.model
    out: list[Finding] = []
    used = {team for _, team in p.case_teams()}
    if "jury" in used:
        on_duty = np.rint(jurors_on_duty(p.jury, s))
        expected = p.jury.pool_size * p.jury.active_share
        if on_duty.max() == 0:
            out.append(
                pol.finding(
                    "error",
                    "jury.active_share",
                    f"no juror is ever on duty: pool_size x active_share = "
                    f"{p.jury.pool_size} x {p.jury.active_share:g} = {expected:.2f} jurors, "
                    "which rounds to 0 at every hour of the scenario's daily rhythm; "
                    "raise pool_size or active_share",
                )
            )
            return out
        if on_duty.max() < p.jury.votes_per_case:
            out.append(
                pol.finding(
                    "warning",
                    "jury.votes_per_case",
                    f"each case needs {p.jury.votes_per_case} votes but at most "
                    f"{int(on_duty.max())} jurors are on duty in any hour, so the same jurors "
                    "vote more than once on a case; raise pool_size or active_share",
                )
            )
    if s.population is None:
        return out  # a replayed log: no arrival model to estimate the load from
    for load in team_loads(s, p):
        out.extend(_overload(load, sc, pol))
    return out


def _overload(load: TeamLoad, sc: _Doc, pol: _Doc) -> list[Finding]:
    if load.utilisation < 1.0:
        return []
    s: Scenario = sc.model
    p: PlatformPolicy = pol.model
    if load.team == "jury":
        j = p.jury
        how = (
            f"{j.pool_size:,} jurors x {100 * j.active_share:g}% on duty x "
            f"{j.reviews_per_hour:g} votes/h / {j.votes_per_case} votes per case"
        )
        fix = "add jurors, raise active_share or reviews_per_hour, or ask fewer votes_per_case"
        field = "jury.pool_size"
    else:
        st = p.staff
        how = (
            f"{st.reviewers} reviewers x {st.shift_hours}/24 h on shift x "
            f"{st.reviews_per_hour:g} decisions/h"
        )
        fix = "add reviewers or lengthen shifts"
        field = "staff.reviewers"
    when = s.local_time(load.peak_start_hour).strftime("%Y-%m-%d %H:%M")
    growth = (load.peak_per_hour - load.capacity_per_hour) * 24.0
    prefilter = (
        " (before any prefilter removals; prefilter flags come on top)"
        if p.prefilter.enabled
        else ""
    )
    return [
        pol.finding(
            "warning",
            field,
            f"the {load.team} can never keep up at the scenario's peak: it decides about "
            f"{load.capacity_per_hour:,.0f} cases an hour ({how}), but in the 24 hours "
            f"from {when} user reports open about {load.peak_per_hour:,.0f} cases an hour"
            f"{prefilter}, {load.utilisation:.1f}x its capacity; the backlog grows by about "
            f"{growth:,.0f} cases a day. To keep up: {fix}.",
        )
    ]


def _hosts(sc: _Doc, pol: _Doc, hosts: list[_Doc]) -> list[Finding]:
    s: Scenario = sc.model
    p: PlatformPolicy = pol.model
    out: list[Finding] = []
    for h in hosts:
        host: HostPolicy = h.model
        name = f"host {host.name!r}"
        for area in host.detection.area_weights or {}:
            if area != "default" and area not in s.taxonomy.area_names:
                out.append(
                    h.finding("error", f"detection.area_weights.{area}", _no_area(area, s.taxonomy))
                )
        remediation = host.notices.remediation_hours
        if p.notices.compliance > 0 and p.notices.response_hours > remediation:
            out.append(
                pol.finding(
                    "warning",
                    "notices.response_hours",
                    f"the platform removes noticed posts after {p.notices.response_hours:g} h, "
                    f"but {name} allows only {remediation:g} h: every notice becomes a strike",
                )
            )
        too_long = [t for t in host.thresholds_hours if t >= s.hours]
        if too_long:
            out.append(
                h.finding(
                    "warning",
                    "thresholds_hours",
                    f"{', '.join(f'{t:g} h' for t in too_long)}: not shorter than the scenario "
                    f"({s.hours:g} h), so no post is old enough to be measured against it",
                )
            )
        strikes = host.strikes.strikes_to_suspend
        # A strike on notices alone lands at a deadline, the window after its
        # notice; notices go out no faster than the cadence (if any). Other
        # signals could strike at any moment.
        on_notices = {n for n, _ in host.strikes.signals.items()} <= NOTICE_SIGNALS
        every = host.notices.every_hours or 0.0
        last_strike = strikes * every + remediation if on_notices else 0.0
        earliest = last_strike + 24.0 * host.suspension.notice_period_days
        if not host.suspension.emergency.enabled and earliest >= s.hours:
            out.append(
                h.finding(
                    "warning",
                    "suspension.notice_period_days",
                    f"{name} cannot suspend the platform within the scenario: {strikes} strikes "
                    f"and the notice period take at least {earliest / 24:.1f} days, the "
                    f"scenario lasts {s.days}",
                )
            )
    return out


def describe(findings: Sequence[Finding]) -> list[str]:
    """One line per finding, for printing."""
    return [f"{f.level}: {f}" for f in findings]
