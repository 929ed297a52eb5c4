"""Adversaries: groups working against the platform's moderation.

* :mod:`~simulator.adversaries.brigading`: organised false reports against
  legitimate posts, and their hold on a volunteer jury's decisions;
* :mod:`~simulator.adversaries.campaigns`: coordinated campaigns posting the
  same violating content in a burst, and the near-duplicate matcher;
* :mod:`~simulator.adversaries.hook`: the engine's handle on them;
* :mod:`~simulator.adversaries.records`: what a run records for metrics.
"""

from simulator.adversaries.hook import Adversaries
from simulator.adversaries.records import AdversaryLog

__all__ = ["Adversaries", "AdversaryLog"]
