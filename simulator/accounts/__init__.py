"""Accounts: the authors behind posts and the platform's account enforcement.

* :mod:`~simulator.accounts.population`: who posts (arrays per author) and who
  wrote which post (a pure, keyed function of the post);
* :mod:`~simulator.accounts.book`: strikes, the escalation ladder, suspensions,
  bans, appeals of bans and ban evasion, as arrays per tracked account;
* :mod:`~simulator.accounts.adaptation`: authors who learn from removals to
  word their violating posts past the prefilter (adaptive evasion);
* :mod:`~simulator.accounts.hook`: the engine's handle on all of them;
* :mod:`~simulator.accounts.records`: what a run records for metrics.
"""

from simulator.accounts.hook import RESTORED, Accounts, plan_accounts
from simulator.accounts.records import AccountLog

__all__ = ["RESTORED", "AccountLog", "Accounts", "plan_accounts"]
