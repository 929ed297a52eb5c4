"""A per-person column kept only for the persons that have a value.

The population has millions of persons; the account book's per-person state
(the tracked row, when the current account first posted something violating)
concerns the few who were struck or posted violating content. A dense array
would hold a value (4 or 8 bytes) for every person; :class:`PersonColumn` holds
sorted person ids and a value each, and answers vectorised look-ups with a
binary search.
"""

from __future__ import annotations

import numpy as np


class PersonColumn:
    """Values by person; persons without one read as ``default``."""

    def __init__(self, default: float, dtype: type) -> None:
        self.default = default
        self._persons = np.empty(0, dtype=np.int64)  # sorted, unique
        self._values: np.ndarray = np.empty(0, dtype=dtype)

    def __len__(self) -> int:
        """Persons with a value."""
        return len(self._persons)

    def _find(self, persons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each person is or would go, and whether it is there."""
        at = np.searchsorted(self._persons, persons)
        there = at < len(self._persons)
        there[there] = self._persons[at[there]] == persons[there]
        return at, there

    def get(self, persons: np.ndarray) -> np.ndarray:
        """Each person's value."""
        persons = np.asarray(persons, dtype=np.int64)
        at, there = self._find(persons)
        out = np.full(len(persons), self.default, dtype=self._values.dtype)
        out[there] = self._values[at[there]]
        return out

    def value(self, person: int) -> float:
        """One person's value."""
        persons = self._persons
        at = persons.searchsorted(person)  # (the method: a call per ladder action)
        if at < len(persons) and persons[at] == person:
            return float(self._values[at])
        return float(self.default)

    def put(self, persons: np.ndarray, values: np.ndarray) -> None:
        """Set the values of distinct ``persons``."""
        persons = np.asarray(persons, dtype=np.int64)
        order = np.argsort(persons, kind="stable")
        persons, values = persons[order], np.asarray(values)[order]
        at, there = self._find(persons)
        self._values[at[there]] = values[there]
        self._insert(at, there, persons, values)

    def minimum(self, persons: np.ndarray, values: np.ndarray) -> None:
        """Lower each person's value to the least of ``values`` given for it (as
        ``np.minimum.at`` on a dense column)."""
        persons = np.asarray(persons, dtype=np.int64)
        values = np.asarray(values, dtype=self._values.dtype)
        order = np.lexsort((values, persons))  # by person, then value: the least first
        persons, values = persons[order], values[order]
        first = np.ones(len(persons), dtype=bool)
        first[1:] = persons[1:] != persons[:-1]
        persons, values = persons[first], values[first]
        at, there = self._find(persons)
        self._values[at[there]] = np.minimum(self._values[at[there]], values[there])
        self._insert(at, there, persons, np.minimum(values, self.default))

    def _insert(
        self, at: np.ndarray, there: np.ndarray, persons: np.ndarray, values: np.ndarray
    ) -> None:
        """Add the sorted, distinct ``persons`` not ``there`` yet, at their places ``at``
        (from :meth:`_find`), with their ``values``."""
        new = ~there
        if new.any():
            self._persons = np.insert(self._persons, at[new], persons[new])
            self._values = np.insert(self._values, at[new], values[new])
