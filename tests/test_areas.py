"""Policy areas: classes declared by the scenario, outcomes by area, priority by severity."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, general_world

import simulator
from simulator.api import simulate
from simulator.checks import check_run
from simulator.config import PlatformPolicy, Scenario, load_file
from simulator.metrics.areas import area_codes
from simulator.taxonomy import CLASSES, DEFAULT, VIOLATING

SCENARIO = ROOT / "scenarios" / "general-platform.yaml"
POLICY = ROOT / "policies" / "general-shared-staff.yaml"


def small(days: int = 2, users: float = 20_000) -> Scenario:
    sc: Scenario = general_world(days, users)
    return sc


def policy(**overrides: object) -> PlatformPolicy:
    pol = simulator.load(POLICY, overrides=dict(overrides))
    assert isinstance(pol, PlatformPolicy)
    return pol


def test_the_default_taxonomy_is_todays_five_classes() -> None:
    assert DEFAULT.classes == CLASSES
    assert DEFAULT.violating.tolist() == VIOLATING.tolist() == [True, True, False, False, False]
    assert DEFAULT.area_names == ("violence",)
    assert simulator.load(ROOT / "scenarios" / "quick.yaml").taxonomy is DEFAULT  # type: ignore[attr-defined]


def test_a_declared_taxonomy_puts_violating_classes_first_area_by_area() -> None:
    tax = small().taxonomy
    assert tax.classes[:2] == ("terrorist_content", "violent_threat")
    assert tax.legitimate == ("violent_news", "heated_political", "benign")
    assert [tax.areas[i].name for i in tax.area_of[tax.violating]] == [
        "terrorism",
        "violence",
        "violence",
        "hate",
        "harassment",
        "spam",
    ]
    assert tax.severity_of().tolist() == [4, 3, 3, 2, 2, 1, 0, 0, 0]


@pytest.mark.parametrize("seed", [1, 2])
def test_area_figures_add_up_to_the_totals(seed: int) -> None:
    r = simulate(small(), policy(), seed=seed)
    s = r.summary
    areas = s["areas"]
    assert list(areas) == ["terrorism", "violence", "hate", "harassment", "spam"]
    for key in ("count", "removed", "never_removed"):
        assert sum(a[key] for a in areas.values()) == s["violating"][key]
    views = sum(a["views_before_removal"]["total"] for a in areas.values())
    assert views == pytest.approx(s["violating"]["views_before_removal"]["total"], rel=1e-9)
    for ch, n in s["violating"]["removed_by"].items():
        assert sum(a["removed_by"][ch] for a in areas.values()) == n
    # each area's own clock: terrorism's 1 hour is one of the global thresholds too
    one_hour = next(w for w in areas["terrorism"]["within"] if w["threshold_hours"] == 1.0)
    assert areas["terrorism"]["within_clock"] == one_hour
    assert all(a["count"] > 0 for a in areas.values())


def test_the_default_taxonomy_adds_no_area_section() -> None:
    r = simulate(ROOT / "scenarios" / "quick.yaml", ROOT / "policies" / "staff-review.yaml", seed=1)
    assert "areas" not in r.summary


def _cases_by_area(r: simulator.RunResult, sc: Scenario) -> pd.DataFrame:
    cases = r.cases["staff"]
    waits = (cases["started"] - cases["arrived"]).to_numpy(dtype=np.float64)
    codes = cases["cls"].to_numpy(dtype=np.int64)
    area = sc.taxonomy.area_of[codes]
    return pd.DataFrame({"area": area, "wait": waits})


@pytest.mark.parametrize("seed", [1, 2])
def test_priority_by_severity_serves_the_severe_area_first_under_load(seed: int) -> None:
    sc = small()
    loaded = {"staff.reviewers": 1}
    by_fifo = simulate(sc, policy(**loaded, **{"staff.priority": "fifo"}), seed=seed)
    by_severity = simulate(sc, policy(**loaded, **{"staff.priority": "severity"}), seed=seed)
    assert by_fifo.summary["review"]["staff"]["utilisation"] > 0.9  # under load
    sev, fifo = _cases_by_area(by_severity, sc), _cases_by_area(by_fifo, sc)
    # the most severe area's cases wait less than the least severe's, and less than
    # when the line is first come, first served
    terror = sev[sev.area == 0].wait
    assert terror.mean() < sev[sev.area == 4].wait.mean()
    assert terror.mean() < fifo[fifo.area == 0].wait.mean()
    t_sev = by_severity.summary["areas"]["terrorism"]
    t_fifo = by_fifo.summary["areas"]["terrorism"]
    assert t_sev["views_before_removal"]["total"] < t_fifo["views_before_removal"]["total"]


def test_results_are_the_same_whatever_the_chunk_size() -> None:
    sc = small(days=3)
    pol = policy(**{"staff.priority": "severity"})
    tables = []
    for chunk in (1, 3):
        parts: list[pd.DataFrame] = []
        r = simulate(sc, pol, seed=4, chunk_days=chunk, sink=parts.append, table="all")
        tables.append(pd.concat(parts).sort_values("post_id", ignore_index=True))
        assert "areas" in r.summary
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert list(tables[0]["cls"].cat.categories) == list(sc.taxonomy.classes)


def test_area_codes_follow_the_class_column() -> None:
    tax = small().taxonomy
    cls = pd.Series(pd.Categorical.from_codes([0, 1, 2, 5], categories=list(tax.classes)))
    assert area_codes(cls, tax).tolist() == [0, 1, 1, 4]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_policy_naming_a_class_the_scenario_lacks_is_an_error_with_its_line(
    tmp_path: Path,
) -> None:
    text = POLICY.read_text().replace("hate_speech: 0.9,", "hate: 0.9,")
    pol = _write(tmp_path, "p.yaml", text)
    findings = check_run(load_file(SCENARIO), load_file(pol))  # type: ignore[arg-type]
    errors = [f for f in findings if f.level == "error"]
    assert [f.field for f in errors] == ["staff.accuracy.hate"]
    assert (
        errors[0].line
        == text.splitlines().index(next(line for line in text.splitlines() if "hate: 0.9" in line))
        + 1
    )
    assert "unknown class 'hate'" in errors[0].message


def test_a_policy_missing_a_class_without_a_default_is_an_error(tmp_path: Path) -> None:
    text = POLICY.read_text().replace("accuracy: {default: 0.95, ", "accuracy: {")
    findings = check_run(load_file(SCENARIO), load_file(_write(tmp_path, "p.yaml", text)))  # type: ignore[arg-type]
    errors = [f for f in findings if f.level == "error"]
    assert [f.field for f in errors] == ["staff.accuracy"]
    assert "no value for terrorist_content, violent_threat, incitement, spam, violent_news" in (
        errors[0].message
    )


def test_a_card_without_a_violating_default_must_cover_every_violating_class(
    tmp_path: Path,
) -> None:
    text = POLICY.read_text().replace("        violating: {auc: 0.93, sd: 1.3}\n", "")
    findings = check_run(load_file(SCENARIO), load_file(_write(tmp_path, "p.yaml", text)))  # type: ignore[arg-type]
    errors = [f for f in findings if f.level == "error"]
    assert [f.field for f in errors] == ["prefilter.model.card.binormal.violating"]
    assert "classes has no entry for violent_threat, incitement" in errors[0].message


def test_a_text_model_cannot_score_declared_classes(tmp_path: Path) -> None:
    text = POLICY.read_text()
    start = text.index("    source: card")
    end = text.index("  auto_remove_above")
    text = text[:start] + "    source: synthetic\n" + text[end:]
    findings = check_run(load_file(SCENARIO), load_file(_write(tmp_path, "p.yaml", text)))  # type: ignore[arg-type]
    errors = [f for f in findings if f.level == "error"]
    assert [f.field for f in errors] == ["prefilter.model.source"]
    assert "one model for every area (`prefilter.model` from the corpus or a model file)" in (
        errors[0].message
    )


def test_a_text_mode_scenario_validates_when_the_corpus_has_its_classes(tmp_path: Path) -> None:
    text = SCENARIO.read_text().replace("texts: {mode: sampled}", "texts: {mode: text}")
    res = simulator_validate(_write(tmp_path, "s.yaml", text))
    assert res.exit_code == 0, res.output


def test_a_text_mode_scenario_with_a_class_the_corpus_lacks_is_refused(tmp_path: Path) -> None:
    text = SCENARIO.read_text().replace("texts: {mode: sampled}", "texts: {mode: text}")
    res = simulator_validate(_write(tmp_path, "s.yaml", text.replace("spam", "phishing")))
    assert res.exit_code == 2
    assert "content.texts.mode: 'text' gives every post a text" in " ".join(res.output.split())
    assert "no templates for class(es) ['phishing']" in res.output
    assert "simulator/data/lexicons/en.yaml" in res.output
    assert "Traceback" not in res.output


def simulator_validate(path: Path):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from simulator.cli import app

    return CliRunner().invoke(app, ["validate", str(path)])


# A prefilter per area -----------------------------------------------------------------

PER_AREA = ROOT / "policies" / "general-per-area.yaml"


def per_area(**overrides: object) -> PlatformPolicy:
    pol = simulator.load(PER_AREA, overrides=dict(overrides))
    assert isinstance(pol, PlatformPolicy)
    return pol


def test_a_post_of_another_area_scores_as_the_cards_legitimate_posts() -> None:
    from simulator.classifier.card import card_score_model

    tax = small().taxonomy
    card = per_area().prefilter.areas["spam"].card  # type: ignore[index]
    model = card_score_model(card, tax, tax.area_mask(tax.area_index("spam")))
    spam, hate, benign = (tax.index[c] for c in ("spam", "hate_speech", "benign"))
    assert np.array_equal(model.quantiles(hate), model.quantiles(benign))
    assert np.array_equal(model.grid(hate), model.grid(benign))
    assert model.share_at_or_above(spam, 0.5)[0] > 10 * model.share_at_or_above(benign, 0.5)[0]


@pytest.mark.parametrize("seed", [3, 4])
def test_a_post_of_an_area_no_queue_serves_is_reviewed_only_as_a_false_positive(
    seed: int,
) -> None:
    # No user reports: only the prefilter opens cases. It screens terrorism, violence
    # and spam; a hate or harassment post reaches a queue only when some card scores
    # it above a threshold as it scores benign posts: no more often than a benign post.
    parts: list[pd.DataFrame] = []
    r = simulate(small(), per_area(**{"reports.enabled": False}), seed=seed, sink=parts.append)
    posts = pd.concat(parts)
    tax = small().taxonomy
    codes = posts["cls"].cat.codes.to_numpy()
    area = tax.area_of[codes]
    cased = posts["case_at"].notna().to_numpy() | posts["removed_at"].notna().to_numpy()
    unserved = np.isin(area, [tax.area_index("hate"), tax.area_index("harassment")])
    benign = codes == tax.index["benign"]
    n = int(unserved.sum())
    assert n > 100
    # the touched table holds every violating post, but only touched benign ones: the
    # benign rate over all benign posts made is below the one seen here
    made_benign = int(r.summary["posts"]["by_class"]["benign"])
    rate = cased[benign].sum() / made_benign
    assert cased[unserved].mean() <= rate + 4 * np.sqrt(rate * (1 - rate) / n) + 1 / n
    served = area == tax.area_index("spam")
    assert cased[served].mean() > 0.5  # the spam card's flags reach the staff


def test_each_area_sends_its_flags_to_its_own_team() -> None:
    pol = per_area(
        **{
            "prefilter.areas.terrorism.review_team": "jury",
            "reports.enabled": False,
            "jury.pool_size": 200,
            "jury.accuracy": {"default": 0.9},
        }
    )
    r = simulate(small(), pol, seed=2)
    tax = small().taxonomy
    jury_areas = set(tax.area_of[r.cases["jury"]["cls"].to_numpy(dtype=np.int64)].tolist())
    staff_areas = set(tax.area_of[r.cases["staff"]["cls"].to_numpy(dtype=np.int64)].tolist())
    terror = tax.area_index("terrorism")
    assert terror in jury_areas
    # a post both cards flag goes to the more severe area's team: no terrorist post
    # reaches staff, whose areas are less severe
    assert terror not in staff_areas
    assert tax.area_index("spam") in staff_areas


def test_each_areas_target_is_met_on_its_own_posts() -> None:
    s = simulate(small(), per_area(), seed=1).summary
    spam = s["classifier"]["areas"]["spam"]["thresholds"]
    review = next(t for t in spam if t["name"] == "spam.review_above")
    assert review["recall"] == pytest.approx(0.95, abs=1e-6)
    auto = next(t for t in spam if t["name"] == "spam.auto_remove_above")
    assert auto["precision"] == pytest.approx(0.99, abs=1e-6)


def _per_area_posts(chunk: int) -> pd.DataFrame:
    """Every post of three days under a prefilter per area, made ``chunk`` days at a time."""
    parts: list[pd.DataFrame] = []
    simulate(small(days=3), per_area(), seed=5, chunk_days=chunk, sink=parts.append, table="all")
    return pd.concat(parts).sort_values("post_id", ignore_index=True)


@functools.cache
def _per_area_posts_day_by_day() -> pd.DataFrame:
    """The reference every chunk size is held to, made once (tests only read it)."""
    return _per_area_posts(1)


@pytest.mark.parametrize("chunk", [2, 3])
def test_a_prefilter_per_area_gives_the_same_posts_whatever_the_chunk_size(chunk: int) -> None:
    pd.testing.assert_frame_equal(_per_area_posts_day_by_day(), _per_area_posts(chunk))


def test_a_policy_screening_an_area_the_scenario_lacks_is_an_error(tmp_path: Path) -> None:
    text = PER_AREA.read_text().replace("    spam:\n      card:", "    scams:\n      card:")
    findings = check_run(load_file(SCENARIO), load_file(_write(tmp_path, "p.yaml", text)))  # type: ignore[arg-type]
    errors = [f for f in findings if f.level == "error"]
    assert [f.field for f in errors] == ["prefilter.areas.scams"]
    assert errors[0].line == text.splitlines().index("    scams:") + 1
    assert "the scenario has no area 'scams'" in errors[0].message


def test_areas_and_a_single_model_together_are_refused(tmp_path: Path) -> None:
    text = PER_AREA.read_text().replace(
        "  review_team: staff\n  areas:", "  review_team: staff\n  review_above: 0.5\n  areas:"
    )
    res = simulator_validate(_write(tmp_path, "p.yaml", text))
    assert res.exit_code == 2
    assert "prefilter.review_above: review_above is for a prefilter without `areas`" in res.output


# Enforcers weighing areas ---------------------------------------------------------------


def test_a_host_that_weighs_only_terrorism_names_only_terrorist_posts() -> None:
    from simulator.engine import Simulation

    host = simulator.load(
        ROOT / "policies" / "host-notice-and-strike.yaml",
        overrides={
            "detection.outside_reports_per_million_views": 20_000.0,
            "detection.area_weights": {"terrorism": 1.0, "default": 0.0},
            "detection.press.enabled": False,
        },
    )
    sc = small()
    sim = Simulation(sc, per_area(**{"reports.enabled": False}), [host], seed=1)  # type: ignore[list-item]
    log = sim.run()
    named = np.concatenate([n.post_ids for n in log.notices])
    assert len(named) > 5
    v = log.violating.set_index("post_id")
    areas = sc.taxonomy.area_of[v.loc[named, "cls"].cat.codes.to_numpy()]
    assert (areas == sc.taxonomy.area_index("terrorism")).all()
    # without the weights the same host names posts of other areas too
    plain = simulator.load(
        ROOT / "policies" / "host-notice-and-strike.yaml",
        overrides={
            "detection.outside_reports_per_million_views": 20_000.0,
            "detection.press.enabled": False,
        },
    )
    log2 = Simulation(sc, per_area(**{"reports.enabled": False}), [plain], seed=1).run()  # type: ignore[list-item]
    named2 = np.concatenate([n.post_ids for n in log2.notices])
    v2 = log2.violating.set_index("post_id")
    areas2 = sc.taxonomy.area_of[v2.loc[named2, "cls"].cat.codes.to_numpy()]
    assert (areas2 != sc.taxonomy.area_index("terrorism")).any()


def test_a_host_weighing_an_area_the_scenario_lacks_is_an_error(tmp_path: Path) -> None:
    text = (
        (ROOT / "policies" / "host-notice-and-strike.yaml")
        .read_text()
        .replace(
            "  audit: {every_days: 7, sample_size: 0}",
            "  audit: {every_days: 7, sample_size: 0}\n  area_weights: {scams: 2}",
        )
    )
    host = _write(tmp_path, "h.yaml", text)
    findings = check_run(load_file(SCENARIO), load_file(PER_AREA), [load_file(host)])  # type: ignore[arg-type, list-item]
    errors = [f for f in findings if f.level == "error"]
    assert [f.field for f in errors] == ["detection.area_weights.scams"]
    assert "the scenario has no area 'scams'" in errors[0].message


def test_compare_tables_carry_each_areas_figures() -> None:
    from simulator.experiments.design import headline_metrics
    from simulator.results import headline

    s = simulate(small(days=1), per_area(), seed=1).summary
    flat = headline_metrics(s)
    for name, a in s["areas"].items():
        assert flat[f"{name}_violating_removed"] == a["removed"]
        assert flat[f"{name}_views_before_removal"] == pytest.approx(
            a["views_before_removal"]["total"]
        )
    row = headline(s)
    assert row["terrorism: removed within 1 h"] == s["areas"]["terrorism"]["within_clock"]["share"]
    # the default taxonomy adds no such column
    quick = simulate(
        ROOT / "scenarios" / "quick.yaml", ROOT / "policies" / "staff-review.yaml", seed=1
    )
    assert not any(k.startswith("violence_") for k in headline_metrics(quick.summary))


def test_a_multi_area_experiment_is_the_same_on_worker_processes() -> None:
    from simulator.experiments.executors import SerialExecutor

    sc = small(days=1)
    policies = [per_area(), policy(**{"staff.priority": "severity"})]
    serial = simulator.compare(
        sc, policies, seeds=2, execution=simulator.Execution(executor=SerialExecutor())
    )
    pooled = simulator.compare(sc, policies, seeds=2, execution=simulator.Execution(workers=2))
    pd.testing.assert_frame_equal(serial.table, pooled.table)
    assert serial.table["metric"].str.startswith("hate_").any()


def test_the_cli_refuses_a_policy_naming_a_class_the_scenario_lacks(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from simulator.cli import app

    text = POLICY.read_text().replace("hate_speech: 0.9,", "hate: 0.9,")
    pol = _write(tmp_path, "p.yaml", text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "hate: 0.9" in t)
    res = CliRunner().invoke(app, ["validate", str(SCENARIO), str(pol)])
    assert res.exit_code == 2
    assert f"{pol}:{line}: staff.accuracy.hate: unknown class 'hate'" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"auto_remove_above": 0.8, "review_above": 0.9}, "review threshold must be the lower"),
        ({"review_above": {"precision": 0.5, "mix": "validation"}}, "no validation sample"),
    ],
)
def test_an_area_screen_refuses_what_the_prefilter_refuses(thresholds, message) -> None:
    # the same rules as the policy-wide prefilter: raw thresholds in order, and a card's
    # targets met on the stream's mix (a card has no validation sample)
    from simulator.config.prefilter import AreaScreen

    card = {
        "name": "c",
        "binormal": {"non_violating": {"mean": -2.0, "sd": 1.0}, "violating": {"auc": 0.9}},
    }
    AreaScreen.model_validate({"card": card})  # the defaults pass
    with pytest.raises(ValueError, match=message):
        AreaScreen.model_validate({"card": card, **thresholds})


def test_an_areas_review_team_must_have_reviewers(tmp_path: Path) -> None:
    # a screen sending its flags to a jury the policy lacks was accepted, then the
    # run failed on its first flag (no jury queue)
    text = PER_AREA.read_text().replace(
        "      review_above: {recall: 0.95}",
        "      review_above: {recall: 0.95}\n      review_team: jury",
    )
    pol = _write(tmp_path, "p.yaml", text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "review_team: jury" in t)
    res = simulator_validate(pol)
    assert res.exit_code == 2
    assert (
        f"{pol}:{line}: prefilter.areas.spam.review_team: prefilter.areas.spam.review_team "
        "is 'jury' but jury.pool_size is 0" in res.output
    )
    assert "Traceback" not in res.output


def test_the_prefilters_own_team_is_not_needed_when_every_area_names_one() -> None:
    jury_only = {
        **{f"prefilter.areas.{a}.review_team": "jury" for a in ("terrorism", "violence", "spam")},
        "reports.review_team": "jury",
        "jury.pool_size": 400,
        "jury.accuracy": {"default": 0.9},
        "appeals.queue": "jury",
        "staff.reviewers": 0,
    }
    pol = per_area(**jury_only)  # the prefilter's review_team (staff) is never used
    assert pol.prefilter.review_team == "staff"
    assert [team for _, team in pol.case_teams()] == ["jury"] * 4
    with pytest.raises(simulator.ConfigError, match=r"prefilter\.review_team is 'staff'"):
        per_area(**{**jury_only, "prefilter.areas.spam.review_team": None})


def test_the_checks_find_an_areas_jury_never_on_duty() -> None:
    pol = per_area(
        **{
            "prefilter.areas.terrorism.review_team": "jury",
            "jury.pool_size": 5,
            "jury.active_share": 0.01,
            "jury.votes_per_case": 1,
            "jury.accuracy": {"default": 0.9},
        }
    )
    errors = [f for f in check_run(small(), pol) if f.level == "error"]
    assert [f.field for f in errors] == ["jury.active_share"]
    assert "no juror is ever on duty" in errors[0].message


def test_a_score_model_of_declared_classes_round_trips_through_its_dict() -> None:
    import json

    from simulator.classifier.card import card_score_model
    from simulator.classifier.scoremodel import ScoreModel

    tax = small().taxonomy
    card = per_area().prefilter.areas["spam"].card  # type: ignore[index]
    model = card_score_model(card, tax, tax.area_mask(tax.area_index("spam")))
    restored = ScoreModel.from_dict(json.loads(json.dumps(model.to_dict())), tax)
    assert restored.taxonomy is tax
    codes = np.random.default_rng(1).integers(0, tax.n_classes, 500).astype(np.int8)
    draws = np.random.default_rng(2).random(500)
    np.testing.assert_array_equal(restored.sample(codes, draws), model.sample(codes, draws))
