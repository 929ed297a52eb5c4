"""The content classes every part of modsim agrees on.

A post belongs to exactly one class. Two classes violate the platform's
rules against violent content; the other three are legitimate speech, two of
them the hard cases a classifier (and a juror) confuses with violations.
Classes are stored as small integers in per-post arrays; this module is the
single mapping between those integers and names.
"""

from __future__ import annotations

import numpy as np

CLASSES: tuple[str, ...] = (
    "violent_threat",
    "incitement",
    "violent_news",
    "heated_political",
    "benign",
)
"""Class names, in the order of their integer codes."""

VIOLATING_CLASSES: frozenset[str] = frozenset({"violent_threat", "incitement"})

CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}

VIOLATING: np.ndarray = np.array([name in VIOLATING_CLASSES for name in CLASSES], dtype=bool)
"""VIOLATING[code] is True when posts of that class violate the rules."""

N_CLASSES = len(CLASSES)


def class_codes(names: list[str] | tuple[str, ...]) -> np.ndarray:
    """Integer codes (int8) for a sequence of class names."""
    return np.array([CLASS_INDEX[n] for n in names], dtype=np.int8)


REMOVAL_CHANNELS: tuple[str, ...] = ("none", "prefilter", "jury", "staff", "notice")
"""How a post came down, as stored in ``removed_by`` (code = index)."""

CHANNEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(REMOVAL_CHANNELS)}
