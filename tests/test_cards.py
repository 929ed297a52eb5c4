"""Classifier cards: a prefilter described by what a team measured of its model.

A card must be what it says (its stated ROC-AUC, its table's precision and
recall, drawn over many posts), be refused when incoherent (see also the
``policy-card-*`` files of the malformed corpus), and act in a run as a
better or worse model should. Thresholds stated as targets are met on the
stream's expected class mix by default: the precision realised in a run is
the target, within sampling error.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, bundled, tweak
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import simulator
from simulator.classifier import ScoreModel, mix_weights, save_model, train_synthetic
from simulator.classifier.card import (
    auc_on_mix,
    card_score_model,
    figures_on_mix,
    threshold_on_mix,
)
from simulator.cli import app
from simulator.config import PlatformPolicy, Scenario, load_text
from simulator.config.card import ClassifierCard
from simulator.errors import ConfigError
from simulator.stages.prefilter import stream_mix
from simulator.taxonomy import CLASSES, N_CLASSES, VIOLATING, VIOLATING_CLASSES

runner = CliRunner()

TABLE = {
    "prevalence": 0.02,
    "points": [
        {"threshold": 0.5, "precision": 0.3, "recall": 0.9},
        {"threshold": 0.8, "precision": 0.6, "recall": 0.7},
        {"threshold": 0.95, "precision": 0.9, "recall": 0.4},
    ],
}
TABLE_MIX = [0.01, 0.01, 0.3, 0.3, 0.38]  # 2% violating, the table's stated prevalence


def card(**form: Any) -> ClassifierCard:
    return ClassifierCard.model_validate(form)


def binormal(auc: float, sd: float = 1.0, **classes: dict[str, float]) -> ClassifierCard:
    return card(binormal={"violating": {"auc": auc, "sd": sd}, "classes": classes})


def draw(model: ScoreModel, shares: list[float], n: int, seed: int) -> tuple[np.ndarray, ...]:
    """``n`` posts of class mix ``shares``: (classes, scores)."""
    rng = np.random.default_rng(seed)
    cls = rng.choice(N_CLASSES, size=n, p=np.asarray(shares) / sum(shares)).astype(np.int8)
    return cls, model.sample(cls, rng.random(n))


def auc_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Standard error of an empirical ROC-AUC (Hanley and McNeil, 1982)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    return math.sqrt(var / (n_pos * n_neg))


def policy_with(base: PlatformPolicy, c: ClassifierCard | dict[str, Any], **changes: Any) -> Any:
    model = {"source": "card", "card": c if isinstance(c, dict) else c.model_dump()}
    return tweak(base, prefilter__model=model, **changes)


# A card is what it says ---------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("auc", "sd"), [(0.7, 1.0), (0.9, 1.0), (0.97, 1.0), (0.9, 1.5)])
def test_a_binormal_card_draws_the_roc_auc_it_states(auc: float, sd: float, seed: int) -> None:
    model = card_score_model(binormal(auc, sd))
    n = 20_000  # posts per side: violent threats against benign (the reference)
    cls, scores = draw(model, [1, 0, 0, 0, 1], 2 * n, seed)
    y = cls == 0
    realised = roc_auc_score(y, scores)
    assert abs(realised - auc) < 4 * auc_se(auc, int(y.sum()), int((~y).sum()))
    # the exact figure of the model itself, with no sample
    assert auc_on_mix(model, [1, 0, 0, 0, 1]) == pytest.approx(auc, abs=1e-4)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_beta_card_draws_its_distributions(seed: int) -> None:
    c = card(
        beta={
            "violating": {"a": 6, "b": 1.5},
            "non_violating": {"a": 1, "b": 12},
            "classes": {"violent_news": {"a": 2, "b": 4}},
        }
    )
    model = card_score_model(c)
    cls, scores = draw(model, [1, 1, 1, 1, 1], 50_000, seed)
    from scipy import stats

    for code, name in enumerate(CLASSES):
        shape = c.beta.distribution(name, name in VIOLATING_CLASSES)  # type: ignore[union-attr]
        p = stats.kstest(scores[cls == code], "beta", args=(shape.a, shape.b)).pvalue
        assert p > 1e-4, f"{name}: scores are not beta({shape.a}, {shape.b}) (KS p={p:.2g})"


def test_a_table_card_reproduces_its_precision_and_recall_on_its_mix() -> None:
    model = card_score_model(card(table=TABLE))
    for point in TABLE["points"]:
        f = figures_on_mix(model, TABLE_MIX, point["threshold"])
        assert f.precision == pytest.approx(point["precision"], abs=1e-9)
        assert f.recall == pytest.approx(point["recall"], abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_table_card_drawn_gives_its_figures_within_sampling_error(seed: int) -> None:
    model = card_score_model(card(table=TABLE))
    cls, scores = draw(model, TABLE_MIX, 2_000_000, seed)
    violating = VIOLATING[cls]
    for point in TABLE["points"]:
        flagged = scores >= point["threshold"]
        n_flag, n_v = int(flagged.sum()), int(violating.sum())
        p, r = point["precision"], point["recall"]
        assert abs((flagged & violating).sum() / n_flag - p) < 4 * math.sqrt(p * (1 - p) / n_flag)
        assert abs((flagged & violating).sum() / n_v - r) < 4 * math.sqrt(r * (1 - r) / n_v)


def test_a_roc_card_gives_its_rates_at_its_thresholds() -> None:
    points = [
        {"threshold": 0.3, "fpr": 0.2, "tpr": 0.95},
        {"threshold": 0.7, "fpr": 0.05, "tpr": 0.8},
        {"threshold": 0.9, "fpr": 0.005, "tpr": 0.5},
    ]
    model = card_score_model(card(roc={"points": points}))
    mix = [0.05, 0.05, 0.3, 0.3, 0.3]
    for p in points:
        f = figures_on_mix(model, mix, p["threshold"])
        assert f.recall == pytest.approx(p["tpr"])
        assert f.false_positive_rate == pytest.approx(p["fpr"])


def test_exact_shares_of_a_measured_score_model_match_its_draws() -> None:
    rng = np.random.default_rng(5)
    validation = pd.DataFrame(
        {
            "score": np.r_[rng.beta(5, 2, 3000), rng.beta(1, 5, 3000)],
            "violating": np.r_[np.ones(3000, bool), np.zeros(3000, bool)],
            "label": ["incitement"] * 3000 + ["benign"] * 3000,
        }
    )
    model = ScoreModel.from_validation(validation)
    cls, scores = draw(model, [0, 1, 0, 0, 1], 400_000, 6)
    for t in (0.1, 0.5, 0.9):
        for code in (1, 4):
            drawn = float((scores[cls == code] >= t).mean())
            exact = float(model.share_at_or_above(code, t)[0])
            n = int((cls == code).sum())
            assert abs(drawn - exact) < 4 * math.sqrt(exact * (1 - exact) / n) + 1e-9


@pytest.mark.parametrize("target", [0.3, 0.6, 0.9])
def test_a_precision_target_is_the_lowest_threshold_reaching_it(target: float) -> None:
    model = card_score_model(binormal(0.95, 1.5, violent_news={"auc": 0.8}))
    mix = [0.004, 0.004, 0.02, 0.25, 0.722]
    t = threshold_on_mix(model, mix, precision=target)
    assert figures_on_mix(model, mix, t).precision == pytest.approx(target, abs=1e-9)
    lower = figures_on_mix(model, mix, t - 1e-4).precision
    assert lower is not None and lower < target
    r = figures_on_mix(model, mix, t).recall
    t_r = threshold_on_mix(model, mix, recall=r)
    assert t_r == pytest.approx(t, abs=1e-9)  # the recall it gives, read back, is the same cut
    assert figures_on_mix(model, mix, t_r + 1e-4).recall < r


def test_an_unreachable_precision_is_a_clear_error() -> None:
    # violating scores less spread than legitimate ones: the top is all legitimate
    model = card_score_model(binormal(0.7, 0.5))
    with pytest.raises(ValueError, match=r"no threshold reaches precision 0\.990.*best is"):
        threshold_on_mix(model, [0.001, 0.001, 0, 0, 0.998], precision=0.99)


# Bad cards are refused ----------------------------------------------------------------

POLICY = """kind: PlatformPolicy
version: 1
name: t
staff: {reviewers: 5}
reports: {review_team: staff}
prefilter:
  enabled: true
  model:
    source: card
    card:
"""


@pytest.mark.parametrize(
    ("body", "line", "field", "message"),
    [
        (
            "      table:\n        prevalence: 0.01\n        points:\n"
            "          - {threshold: 0.5, precision: 0.3, recall: 0.6}\n"
            "          - {threshold: 0.9, precision: 0.8, recall: 0.7}\n",
            15,
            "prefilter.model.card.table.points[1].recall",
            "recall cannot rise as the threshold rises",
        ),
        (
            "      roc:\n        points: [{threshold: 0.5, fpr: 1.2, tpr: 0.9}]\n",
            12,
            "prefilter.model.card.roc.points[0].fpr",
            "less than or equal to 1",
        ),
        (
            "      binormal:\n        violating: {auc: 0.45}\n",
            12,
            "prefilter.model.card.binormal.violating.auc",
            "expected a ROC-AUC above 0.5",
        ),
        (
            "      roc:\n        points:\n"
            "          - {threshold: 0.3, fpr: 0.1, tpr: 0.9}\n"
            "          - {threshold: 0.6, fpr: 0.2, tpr: 0.8}\n",
            14,
            "prefilter.model.card.roc.points[1].fpr",
            "points[1].fpr (0.2) is above points[0].fpr (0.1): more legitimate posts cannot",
        ),
    ],
    ids=[
        "recall-increasing",
        "probability-above-one",
        "auc-below-half",
        "false-positives-increasing",
    ],
)
def test_a_bad_card_is_refused_with_line_and_field(
    body: str, line: int, field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_text(POLICY + body, file="p.yaml")
    assert (err.value.line, err.value.field) == (line, field)
    assert message in err.value.message


# Cards in runs ------------------------------------------------------------------------


def small_world(quick: Scenario) -> Scenario:
    """Three days of the quick world at 10,000 users, in scale mode: ~15,000 posts a day."""
    return tweak(
        quick,
        days=3,
        surges=[],
        population__daily_active_users=[
            {"date": "2021-03-01", "users": 10000},
            {"date": "2021-03-08", "users": 10000},
        ],
        content__texts__mode="sampled",
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_stronger_card_removes_fewer_legitimate_posts_at_the_same_recall(
    quick: Scenario, ai_first: PlatformPolicy, seed: int
) -> None:
    world = small_world(quick)
    removed: dict[str, int] = {}
    recall: dict[str, float] = {}
    for name, auc in (("weak", 0.85), ("strong", 0.98)):
        pol = policy_with(
            ai_first,
            binormal(auc, violent_news={"auc": 0.75}),
            prefilter__auto_remove_above={"recall": 0.5},
            prefilter__review_above=1.0,
        )
        s = simulator.simulate(world, pol, [], seed=seed).summary
        removed[name] = s["legitimate"]["wrongly_removed_by"]["prefilter"]
        recall[name] = s["classifier"]["in_run"]["at_thresholds"][0]["recall"]
    assert removed["strong"] < removed["weak"] / 5
    assert recall["strong"] == pytest.approx(0.5, abs=0.1)
    assert recall["weak"] == pytest.approx(0.5, abs=0.1)


def within_sampling_error(summary: dict[str, Any], target: float) -> tuple[float, float]:
    """(realised precision of the automatic removals, 4 binomial standard errors)."""
    r = summary["classifier"]["in_run"]
    n = r["auto_removed"]
    assert n > 50, "too few removals to test a precision"
    return r["precision"], 4 * math.sqrt(target * (1 - target) / n)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("target", [0.5, 0.9])
def test_a_precision_target_on_the_stream_mix_is_met_within_sampling_error(
    quick_sampled: Scenario, ai_first: PlatformPolicy, seed: int, target: float
) -> None:
    """The default mix is the stream's expected one, surge included: a card (whose
    score distributions the run draws from) realises its target up to sampling."""
    surge = {**quick_sampled.surges[0].model_dump(), "hours": 12}  # from noon on day 5
    world = tweak(quick_sampled, days=5, surges=[surge])
    pol = policy_with(
        ai_first,
        binormal(0.97, 1.5, violent_news={"auc": 0.8}),
        prefilter__auto_remove_above={"precision": target},
        prefilter__review_above=1.0,
    )
    summary = simulator.simulate(world, pol, [], seed=seed).summary
    realised, tolerance = within_sampling_error(summary, target)
    assert abs(realised - target) < tolerance, (realised, target, tolerance)
    at = summary["classifier"]["thresholds"][0]
    assert at["precision"] == pytest.approx(target)  # the card's own figure on the mix


@pytest.mark.parametrize("seed", [0, 1])
def test_the_synthetic_model_meets_a_stream_precision_target_in_scale_mode(
    quick_sampled: Scenario, ai_first: PlatformPolicy, seed: int
) -> None:
    """The same for a trained model: the target is met on its scores on stream-like
    texts, which scale mode draws from."""
    pol = tweak(
        ai_first,
        prefilter__model__train_per_class=300,
        prefilter__auto_remove_above={"precision": 0.6},
        prefilter__review_above=1.0,
    )
    summary = simulator.simulate(quick_sampled, pol, [], seed=seed).summary
    realised, tolerance = within_sampling_error(summary, 0.6)
    assert abs(realised - 0.6) < tolerance, (realised, tolerance)


def test_the_stream_mix_counts_surges_and_volume(quick: Scenario) -> None:
    calm = stream_mix(tweak(quick, surges=[]))
    surged = stream_mix(quick)
    assert calm is not None and surged is not None
    base = dict(zip(CLASSES, quick.class_shares(), strict=True))
    assert calm == pytest.approx(base)
    violating = sum(surged[c] for c, v in zip(CLASSES, VIOLATING, strict=True) if v)
    # a 48-hour surge at 1.5x volume and 4x the violating share, in a week at 1%
    assert 0.015 < violating < 0.03
    assert sum(surged.values()) == pytest.approx(1.0)


def test_a_model_labelled_by_group_is_reweighted_by_group() -> None:
    v = pd.DataFrame(
        {"score": [0.9, 0.8, 0.2, 0.1, 0.3], "violating": [True, True, False, False, False]}
    ).assign(label=None)
    shares = dict(zip(CLASSES, [0.01, 0.01, 0.1, 0.18, 0.7], strict=True))
    w = mix_weights(v, shares)
    assert w[:2].sum() == pytest.approx(0.02) and w[2:].sum() == pytest.approx(0.98)
    assert len(set(w[2:])) == 1


def test_a_card_runs_in_text_mode_with_its_own_scores_and_reports_beside_the_run(
    tmp_path: Path,
) -> None:
    """A card has no text model: in a text-mode scenario its scores are drawn all the
    same, and the report sets the card's figures beside the run's."""
    world = tmp_path / "two-days.yaml"
    quick = (ROOT / "scenarios/quick.yaml").read_text()
    world.write_text(quick.replace("days: 7", "days: 2").split("surges:")[0])
    out = tmp_path / "run"
    res = runner.invoke(
        app,
        [
            "run", str(world), "-p", str(ROOT / "policies/jury-plus-card-typical.yaml"),
            "--no-host", "--seed", "2", "--out", str(out), "-q",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    c = json.loads((out / "summary.json").read_text())["classifier"]
    assert c["model"] == {"source": "card", "form": "binormal", "name": "typical"}
    assert c["score_mode"] == "sampled" and c["card"]["roc_auc_on_stream_mix"] > 0.9
    auto = c["thresholds"][0]
    realised = c["in_run"]["at_thresholds"][0]
    assert auto["target"] == {"precision": 0.9} and auto["precision"] == pytest.approx(0.9)
    assert realised["flagged"] > 0 and 0 < realised["recall"] < 1
    report = (out / "report.md").read_text()
    assert 'Scores came from **a classifier card** ("typical")' in report
    assert "### The card's figures beside the run's" in report
    row = next(line for line in report.splitlines() if line.startswith("| auto_remove_above |"))
    assert "| precision 0.9 |" in row and "90.0%" in row


def test_a_card_target_cannot_be_on_a_validation_sample(jury_plus_ai: PlatformPolicy) -> None:
    with pytest.raises(ValueError, match=r"a card has no validation sample"):
        policy_with(
            jury_plus_ai,
            binormal(0.9),
            prefilter__auto_remove_above={"precision": 0.9, "mix": "validation"},
        )


def test_evaluate_needs_a_scenario_for_targets_on_the_stream(tmp_path: Path) -> None:
    model = tmp_path / "m.skops"
    save_model(train_synthetic(np.random.default_rng(1), n_per_class=60), model)
    policy = str(ROOT / "policies/ai-first.yaml")
    res = runner.invoke(app, ["classifier", "evaluate", str(model), "-p", policy])
    assert res.exit_code == 2
    assert "prefilter.auto_remove_above is a target on the stream's class mix" in res.output
    assert "--scenario" in res.output
    res = runner.invoke(
        app,
        ["classifier", "evaluate", str(model), "-p", policy, "--scenario",
         str(ROOT / "scenarios/quick.yaml")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "prefilter.auto_remove_above" in res.output


# The bundled cards --------------------------------------------------------------------

CARD_POLICIES = [f"policies/jury-plus-card-{n}.yaml" for n in ("weak", "typical", "strong")]


def test_the_bundled_cards_are_ordered_weak_typical_strong(quick: Scenario) -> None:
    mix = stream_mix(quick)
    assert mix is not None
    shares = [mix[c] for c in CLASSES]
    aucs, recalls = [], []
    for path in CARD_POLICIES:
        c = bundled(path).prefilter.model.card
        model = card_score_model(c)
        aucs.append(auc_on_mix(model, shares))
        t = threshold_on_mix(model, shares, precision=0.9)
        recalls.append(figures_on_mix(model, shares, t).recall)
    assert aucs == sorted(aucs) and recalls == sorted(recalls)
    assert recalls[0] < 0.2 < recalls[2]


def test_the_bundled_compare_of_the_cards_reports_harm_and_wrongful_removals_per_card(
    tmp_path: Path,
) -> None:
    """The README's comparison of jury-only with jury plus each card, on two seeds."""
    out = tmp_path / "cards"
    args = ["compare", str(ROOT / "scenarios/quick.yaml")]
    for path in ["policies/jury-only.yaml", *CARD_POLICIES]:
        args += ["-p", str(ROOT / path)]
    res = runner.invoke(app, [*args, "--seeds", "2", "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    md = (out / "report.md").read_text()
    for name in ("weak", "typical", "strong"):
        line = next(x for x in md.splitlines() if f"Trade-off, jury-plus-card-{name}" in x)
        assert "harmful views" in line and "wrongful removals" in line
    summary = pd.read_csv(out / "summary.csv")
    harm = summary[summary["metric"] == "views_before_removal"].set_index("policy")["mean"]
    # a stronger card at the same precision removes more violating posts, sooner
    assert harm["jury-plus-card-strong"] < harm["jury-plus-card-weak"] < harm["jury-only"]


def test_the_readme_card_is_valid_and_a_card_can_be_swept() -> None:
    readme = (ROOT / "README.md").read_text()
    block = next(b.split("```")[0] for b in readme.split("```yaml\n")[1:] if "source: card" in b)
    header = "kind: PlatformPolicy\nversion: 1\nname: ours\nstaff: {reviewers: 5}\n"
    policy = load_text(header + "reports: {review_team: staff}\n" + block, file="README.md")
    assert isinstance(policy, PlatformPolicy)
    assert policy.prefilter.model.card is not None
    assert policy.prefilter.model.card.form == "table"
    from simulator.config import set_fields

    weak = bundled("policies/jury-plus-card-weak.yaml")
    swept = set_fields(weak, {"prefilter.model.card.binormal.violating.auc": 0.9})
    assert swept.prefilter.model.card.binormal.violating.auc == 0.9
