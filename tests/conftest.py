"""Shared fixtures: tiny real configurations, never mocks."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ACCOUNTS_POPULATION, ROOT, bundled, tweak

from simulator.config import HostPolicy, PlatformPolicy, Scenario


@pytest.fixture(scope="session")
def quick() -> Scenario:
    return bundled("scenarios/quick.yaml")


@pytest.fixture(scope="session")
def quick_sampled(quick: Scenario) -> Scenario:
    """The quick world in scale mode (scores drawn, no texts): fast."""
    return tweak(quick, content__texts__mode="sampled")


@pytest.fixture(scope="session")
def accounts_world(quick_sampled: Scenario) -> Scenario:
    """The quick world in scale mode with authors (repeat offenders, ban evasion)."""
    return tweak(quick_sampled, accounts=ACCOUNTS_POPULATION)


@pytest.fixture(scope="session")
def jury_only() -> PlatformPolicy:
    return bundled("policies/jury-only.yaml")


@pytest.fixture(scope="session")
def jury_plus_ai() -> PlatformPolicy:
    return bundled("policies/jury-plus-ai.yaml")


@pytest.fixture(scope="session")
def ai_first() -> PlatformPolicy:
    return bundled("policies/ai-first.yaml")


@pytest.fixture(scope="session")
def strike_host() -> HostPolicy:
    return bundled("policies/host-notice-and-strike.yaml")


@pytest.fixture(scope="session")
def strict_host() -> HostPolicy:
    return bundled("policies/host-strict-24h.yaml")


@pytest.fixture(scope="session")
def suspending_host(strict_host: HostPolicy) -> HostPolicy:
    """The strict host with an emergency rule that fires on five found posts, at
    once: it suspends the quick world within its week."""
    return tweak(
        strict_host,
        detection__outside_reports_per_million_views=5000.0,
        suspension__emergency__signals={"found_posts": {"threshold": 5.0}},
        suspension__emergency__notice_hours=0.0,
    )


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One day of the quick world in scale mode, as a file: a run of a second or two."""
    text = (ROOT / "scenarios/quick.yaml").read_text().replace("mode: text", "mode: sampled")
    text = text.replace("days: 7", "days: 1").split("surges:")[0]
    path = tmp_path_factory.mktemp("world") / "tiny.yaml"
    path.write_text(text)
    return path
