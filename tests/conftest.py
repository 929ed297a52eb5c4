"""Shared fixtures: tiny real configurations, never mocks."""

from __future__ import annotations

import pytest
from helpers import bundled, tweak

from simulator.config import HostPolicy, PlatformPolicy, Scenario


@pytest.fixture(scope="session")
def quick() -> Scenario:
    return bundled("scenarios/quick.yaml")


@pytest.fixture(scope="session")
def quick_sampled(quick: Scenario) -> Scenario:
    """The quick world in scale mode (scores drawn, no texts): fast."""
    return tweak(quick, content__texts__mode="sampled")


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
