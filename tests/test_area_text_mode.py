"""Text mode with declared policy areas: each area's text model scores every post's text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import ROOT, general_world

import simulator
from simulator.api import simulate
from simulator.config import PlatformPolicy, Scenario
from simulator.errors import ModsimError
from simulator.experiments.design import replication_seed

POLICY = ROOT / "policies" / "general-per-area-text.yaml"
PER_CLASS = 200  # training texts per class: enough to separate areas, quick to train
# Every run here uses one seed, the first replication's of an experiment on base seed 0,
# so that one set of area models (trained, then scored on stream-like texts: seconds
# each) serves every test of the file and the experiment's serial run.
SEED = replication_seed(0, 0)


def world(days: int = 2, users: float = 15_000, mode: str = "text") -> Scenario:
    sc: Scenario = general_world(days, users, mode)
    return sc


def text_policy(**overrides: object) -> PlatformPolicy:
    per_class = {
        f"prefilter.areas.{a}.model.train_per_class": PER_CLASS
        for a in ("terrorism", "violence", "hate", "harassment", "spam")
    }
    pol = simulator.load(POLICY, overrides={**per_class, **overrides})
    assert isinstance(pol, PlatformPolicy)
    return pol


def test_each_area_scores_texts_and_its_flags_reach_its_own_team() -> None:
    pol = text_policy(
        **{
            "prefilter.areas.hate.review_team": "jury",
            # hate's flags all go to review (a removal threshold no score reaches)
            "prefilter.areas.hate.auto_remove_above": 1.0,
            "reports.enabled": False,
            "jury.pool_size": 200,
            "jury.accuracy": {"default": 0.9},
        }
    )
    parts: list[pd.DataFrame] = []
    r = simulate(world(), pol, seed=SEED, sink=parts.append)
    assert r.summary["classifier"]["score_mode"] == "text"
    tax = world().taxonomy
    hate = tax.area_index("hate")
    flags = {
        team: r.cases[team].loc[r.cases[team]["kind_name"] != "appeal", "cls"].to_numpy(np.int64)
        for team in ("jury", "staff")
    }
    jury_hate = int((tax.area_of[flags["jury"]] == hate).sum())
    assert jury_hate > 20
    # hate posts go to the jury unless a more severe area's model flagged them too
    assert (tax.area_of[flags["staff"]] == hate).sum() <= 0.1 * jury_hate
    assert set(tax.area_of[flags["jury"]].tolist()) <= {hate, -1}
    # the other areas' flags reach the staff (terrorism and spam are mostly removed outright)
    assert set(tax.area_of[flags["staff"]].tolist()) - {hate, -1}
    posts = pd.concat(parts)
    # a text's score is the models' score of that text: posts sharing a text share it
    repeated = posts.groupby("text")["score"].nunique()
    assert (posts.groupby("text").size() > 1).any()
    assert (repeated == 1).all()


def test_text_mode_with_areas_is_the_same_whatever_the_chunk_size() -> None:
    sc = world(days=2, users=8_000)
    tables = []
    for chunk in (1, 2):
        parts: list[pd.DataFrame] = []
        simulate(sc, text_policy(), seed=SEED, chunk_days=chunk, sink=parts.append, table="all")
        tables.append(pd.concat(parts).sort_values("post_id", ignore_index=True))
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_each_areas_precision_target_is_met_on_its_own_posts() -> None:
    s = simulate(world(days=1, users=5_000), text_policy(), seed=SEED).summary
    for area, target in (("hate", 0.95), ("spam", 0.99)):
        rows = s["classifier"]["areas"][area]["thresholds"]
        auto = next(t for t in rows if t["name"] == f"{area}.auto_remove_above")
        assert auto["precision"] >= target - 1e-6
        model = s["classifier"]["areas"][area]["model"]
        assert model["source"] == "synthetic" and model["roc_auc_heldout_template"] > 0.9


def test_scale_mode_draws_from_the_area_models_scores() -> None:
    s = simulate(world(days=1, users=5_000, mode="sampled"), text_policy(), seed=SEED).summary
    assert s["classifier"]["score_mode"] == "sampled"
    assert "model" in s["classifier"]["areas"]["terrorism"]
    from simulator.report.run import classifier_line

    line = classifier_line(s)
    assert line.startswith("A prefilter per area (sampled scores): terrorism by a text model")


def test_an_experiment_on_worker_processes_ships_the_area_models() -> None:
    from simulator.experiments.executors import SerialExecutor

    sc = world(days=1, users=3_000)
    policies = [
        text_policy(),
        text_policy(**{"name": "hate-at-0.5", "prefilter.areas.hate.review_above": 0.5}),
    ]
    serial = simulator.compare(
        sc, policies, seeds=1, execution=simulator.Execution(executor=SerialExecutor())
    )
    pooled = simulator.compare(sc, policies, seeds=1, execution=simulator.Execution(workers=2))
    pd.testing.assert_frame_equal(serial.table, pooled.table)


def test_an_area_names_a_card_or_a_model_exactly_once(tmp_path: Path) -> None:
    both = POLICY.read_text().replace(
        "    spam:\n      model: {source: synthetic}",
        "    spam:\n      model: {source: synthetic}\n      card: {binormal: "
        "{non_violating: {mean: -2.0, sd: 1.0}, violating: {auc: 0.99, sd: 1.0}}}",
    )
    path = tmp_path / "p.yaml"
    path.write_text(both)
    with pytest.raises(simulator.ConfigError, match="a `card` or a text `model`, exactly one"):
        simulator.load(path)
    with pytest.raises(simulator.ConfigError, match="source 'file' needs `path`"):
        text_policy(**{"prefilter.areas.spam.model.source": "file"})


def test_a_model_file_without_the_area_is_refused(tmp_path: Path) -> None:
    from simulator.classifier.areafile import save_area_models
    from simulator.classifier.areas import train_synthetic_areas

    sc = world(days=1, users=2_000)
    models = train_synthetic_areas(np.random.default_rng(0), sc.taxonomy, n_per_class=30)
    trimmed = type(models)(
        models.features,
        {"hate": models.classifiers["hate"]},
        {"hate": models.validation["hate"]},
        {},
        models.metadata,
    )
    path = tmp_path / "hate.skops"
    save_area_models(trimmed, path)
    pol = text_policy(**{"prefilter.areas.spam.model": {"source": "file", "path": str(path)}})
    with pytest.raises(ModsimError, match=r"prefilter\.areas\.spam\.model: the model file has no"):
        simulate(sc, pol, seed=SEED)
