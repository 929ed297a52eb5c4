"""Enforcers: an infrastructure host, an app store or a regulator watching a
platform it does not run.

An enforcer learns of live violating posts through outside reports (a Poisson
process driven by each post's views), periodic audits, and - once harmful
views surge - press and watchdog reports. It sends notices with a
remediation window, counts a strike whenever its strike rule's signals say
the platform failed, warns, and removes the platform after enough strikes
(following the contractual notice period) or sooner when its emergency clause
fires. Every rule is judged the moment an event can change it
(:mod:`~simulator.enforcement.enforcer`), from what the enforcer observes of
the platform's moderation (:mod:`~simulator.enforcement.signals`), and every
decision keeps the evidence behind it (:class:`Trip`).

Its *effect* is a takedown (the platform goes offline: the engine ends the
run) or a delisting (the app leaves a store: new users stop arriving through
it, :class:`Delisting`), which it lifts once the platform has remediated if its
policy allows reinstatement.

Each enforcer keeps its own timeline; its random draws are keyed by its name,
so adding or reordering enforcers never changes another one's draws. It never
looks at the platform's internals: it asks through :class:`PlatformView`.
"""

from simulator.enforcement.clock import LetterClock
from simulator.enforcement.delisting import Delisting
from simulator.enforcement.enforcer import Enforcer, plan_enforcers
from simulator.enforcement.records import (
    EVENT_KINDS,
    EnforcementEvent,
    Notice,
    Peak,
    PlatformView,
    QueueState,
    SignalReading,
    Trip,
)

__all__ = [
    "EVENT_KINDS",
    "Delisting",
    "EnforcementEvent",
    "Enforcer",
    "LetterClock",
    "Notice",
    "Peak",
    "PlatformView",
    "QueueState",
    "SignalReading",
    "Trip",
    "plan_enforcers",
]
