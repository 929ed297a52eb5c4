"""The summary-only path (``simulate_summary``, what an experiment's runs use)
gives the summary ``simulate`` gives, to the last byte, in every kind of world."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import bundled, general_world, tweak

from simulator.api import simulate, simulate_summary
from simulator.experiments.design import headline_metrics, make_cell, run_cell


def _text(summary: dict[str, Any]) -> str:
    return json.dumps(summary, sort_keys=True)


def _cases() -> dict[str, tuple[Any, Any, list[Any], int]]:
    quick = tweak(bundled("scenarios/quick.yaml"), content__texts__mode="sampled", days=5)
    strike = bundled("policies/host-notice-and-strike.yaml")
    suspending = tweak(
        bundled("policies/host-strict-24h.yaml"),
        detection__outside_reports_per_million_views=5000.0,
        suspension__emergency__signals={"found_posts": {"threshold": 5.0}},
        suspension__emergency__notice_hours=0.0,
    )
    accounts = tweak(
        quick,
        accounts={
            "offender_share": 0.05,
            "offender_post_share": 0.8,
            "evasion": {"share": 0.5, "delay": {"median_days": 1.0, "sigma": 0.5}},
        },
    )
    return {
        "jury, no host": (quick, bundled("policies/jury-only.yaml"), [], 0),
        "prefilter and host": (quick, bundled("policies/jury-plus-ai.yaml"), [strike], 1),
        "suspended": (quick, bundled("policies/ai-first.yaml"), [suspending], 2),
        "accounts": (accounts, bundled("policies/jury-three-strikes.yaml"), [strike], 3),
        "adversaries": (
            tweak(bundled("scenarios/quick-adversaries.yaml"), days=5),
            bundled("policies/jury-only.yaml"),
            [strike],
            4,
        ),
        "areas": (general_world(days=2), bundled("policies/general-per-area.yaml"), [], 5),
    }


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_summary_path_gives_the_full_results_summary(name: str) -> None:
    scenario, policy, hosts, seed = CASES[name]
    full = simulate(scenario, policy, hosts, seed).summary
    alone = simulate_summary(scenario, policy, hosts, seed)
    assert _text(alone) == _text(full)
    if name == "suspended":  # the case is what it says
        assert full["enforcement"]["suspended"]
    if name == "accounts":
        assert "accounts" in full
    if name == "adversaries":
        assert "adversaries" in full
    if name == "areas":
        assert "areas" in full


def test_a_cell_keeps_the_summary_of_the_full_result() -> None:
    scenario, policy, hosts, seed = CASES["prefilter and host"]
    result = run_cell(make_cell(scenario, policy, hosts, 0, seed))
    assert result.ok and result.summary is not None
    full = simulate(scenario, policy, hosts, seed).summary
    assert _text(result.summary) == _text(full)
    assert _text(result.metrics or {}) == _text(headline_metrics(full))
