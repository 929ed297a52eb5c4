"""The content classes and policy areas a run agrees on.

A post belongs to exactly one class. Each class is either legitimate speech
or violates the rules of one *policy area* (violence, hate, harassment,
spam...), and each area has its own severity and legal clock (the time within
which a violating post of that area should be down). Classes are stored as
small integers in per-post arrays; a :class:`Taxonomy` is the mapping between
those integers, names and areas. The scenario declares it
(``content.areas`` and ``content.legitimate_classes``); a scenario that
declares none has :data:`DEFAULT`: two violating classes in one area,
violence, and three legitimate ones, two of them the hard cases a classifier
(and a juror) confuses with violations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Area:
    """A policy area: the violating classes one rule covers, how severe, how fast."""

    name: str
    classes: tuple[str, ...]
    severity: int = 1
    """Higher is more severe; shared review queues serve higher severity first
    when the policy asks them to."""
    clock_hours: float = 24.0
    """The area's legal clock: removal within this time after creation counts as in time."""


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """Class names in code order, which violate, and the area of each violating class.

    Violating classes come first, area by area in the order declared, then
    the legitimate ones. Build one with :func:`taxonomy`; the arrays are read-only.
    """

    areas: tuple[Area, ...]
    legitimate: tuple[str, ...]
    classes: tuple[str, ...] = field(init=False)
    index: dict[str, int] = field(init=False)
    violating: np.ndarray = field(init=False)
    """violating[code] is True when posts of that class violate the rules."""
    area_of: np.ndarray = field(init=False)
    """area_of[code]: index into :attr:`areas` of a violating class, -1 for a legitimate one."""
    violating_classes: frozenset[str] = field(init=False)
    area_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        classes = tuple(c for a in self.areas for c in a.classes) + self.legitimate
        if len(set(classes)) != len(classes):
            raise ValueError(f"class names must be unique, got {list(classes)}")
        if not self.areas or not self.legitimate or any(not a.classes for a in self.areas):
            raise ValueError(
                "a taxonomy needs at least one area (with classes) and one legitimate class"
            )
        n_v = len(classes) - len(self.legitimate)
        area_of = np.full(len(classes), -1, dtype=np.int64)
        area_of[:n_v] = np.repeat(np.arange(len(self.areas)), [len(a.classes) for a in self.areas])
        violating = np.arange(len(classes)) < n_v
        for arr in (area_of, violating):
            arr.setflags(write=False)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "index", {name: i for i, name in enumerate(classes)})
        object.__setattr__(self, "violating", violating)
        object.__setattr__(self, "area_of", area_of)
        object.__setattr__(self, "violating_classes", frozenset(classes[:n_v]))
        object.__setattr__(self, "area_names", tuple(a.name for a in self.areas))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Taxonomy) and (self.areas, self.legitimate) == (
            other.areas,
            other.legitimate,
        )

    def __hash__(self) -> int:
        return hash((self.areas, self.legitimate))

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def area_index(self, name: str) -> int:
        return self.area_names.index(name)

    def codes(self, names: list[str] | tuple[str, ...]) -> np.ndarray:
        """Integer codes (int8) for a sequence of class names."""
        return np.array([self.index[n] for n in names], dtype=np.int8)

    def area_mask(self, area: int) -> np.ndarray:
        """mask[code] is True for the classes of area number ``area``."""
        return self.area_of == area

    def severity_of(self) -> np.ndarray:
        """Severity of each class's area (0 for legitimate classes)."""
        sev = np.array([0] + [a.severity for a in self.areas], dtype=np.int64)
        return sev[self.area_of + 1]

    def area_weights(self, weights: dict[str, float] | None) -> np.ndarray | None:
        """Per class, the weight of its area in ``weights`` (by area name, ``default``
        for areas not named, else 1; 1 for legitimate classes); None without weights.
        Names of areas this taxonomy lacks are ignored (the checks refuse them)."""
        if weights is None:
            return None
        fallback = weights.get("default", 1.0)
        per_area = np.array([weights.get(a.name, fallback) for a in self.areas], dtype=float)
        out = np.ones(self.n_classes)
        out[self.violating] = per_area[self.area_of[self.violating]]
        return out

    @property
    def is_default(self) -> bool:
        return self == DEFAULT


@lru_cache(maxsize=64)
def taxonomy(areas: tuple[Area, ...], legitimate: tuple[str, ...]) -> Taxonomy:
    """The taxonomy of these areas and legitimate classes (one object per declaration)."""
    return Taxonomy(areas, legitimate)


DEFAULT: Taxonomy = taxonomy(
    (Area("violence", ("violent_threat", "incitement"), severity=1, clock_hours=24.0),),
    ("violent_news", "heated_political", "benign"),
)
"""Today's five classes: violence is the one area, with NetzDG's 24-hour clock
for manifestly unlawful content."""

CLASSES: tuple[str, ...] = DEFAULT.classes
"""The default taxonomy's class names, in the order of their integer codes."""

VIOLATING_CLASSES: frozenset[str] = DEFAULT.violating_classes

CLASS_INDEX: dict[str, int] = DEFAULT.index

VIOLATING: np.ndarray = DEFAULT.violating
"""The default taxonomy's VIOLATING[code]."""

N_CLASSES = DEFAULT.n_classes


def class_codes(names: list[str] | tuple[str, ...]) -> np.ndarray:
    """Integer codes (int8) for a sequence of the default taxonomy's class names."""
    return DEFAULT.codes(names)


TEXT_MODELS_DEFAULT_ONLY = (
    "one model for every area (`prefilter.model` from the corpus or a model file) knows only "
    "the default classes (violence: violent_threat, incitement; legitimate: violent_news, "
    "heated_political, benign); a scenario declaring its own `content.areas` needs "
    "`prefilter.model.source: card` (scores drawn from the card per class), or a card or text "
    "model per area (`prefilter.areas.<area>.card` or `.model`)"
)
"""Why one text model cannot score a scenario with its own classes."""

REMOVAL_CHANNELS: tuple[str, ...] = ("none", "prefilter", "jury", "staff", "notice")
"""How a post came down, as stored in ``removed_by`` (code = index)."""

CHANNEL_INDEX: dict[str, int] = {name: i for i, name in enumerate(REMOVAL_CHANNELS)}
