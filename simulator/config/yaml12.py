"""Plain scalars read by the YAML 1.2 core schema, not PyYAML's YAML 1.1 rules.

PyYAML resolves untagged scalars by YAML 1.1, which turns text into numbers
and booleans a reader would never guess: ``12:30`` is 750 (base 60),
``1_000`` is 1000, ``012`` is 10 (octal), ``0x1F`` is 31 and ``yes``, ``no``,
``on`` and ``off`` are booleans. :class:`CoreLoader` reads plain scalars by
the YAML 1.2 core schema instead, with one deliberate restriction:

* null: ``~``, ``null``, ``Null``, ``NULL`` or nothing;
* booleans: ``true``, ``True``, ``TRUE``, ``false``, ``False``, ``FALSE``;
* integers: decimal only (``12``, ``-3``, ``+7``). YAML 1.2 also has ``0o17``
  and ``0x1F``; modsim reads those as text, like ``012`` (octal in YAML 1.1,
  twelve in 1.2), so that a count written that way is refused with a
  message instead of being read as a number the author may not have meant;
* floats: ``1.5``, ``.5``, ``2.``, ``1e3``, ``-2.5E-4``, ``.inf``, ``-.inf``,
  ``.nan`` (the configuration models refuse the last three);
* dates and date-times (``2021-01-06``, ``2021-01-06 12:00:00``,
  ``2021-01-06T12:00:00Z``) as in PyYAML: not part of the core schema, but
  every scenario has them.

Anything else is text. Explicit tags (``!!int 0x1F``, ``!!bool yes``) go
through the same rules, so they cannot bring the YAML 1.1 forms back.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

_TAG = "tag:yaml.org,2002:"
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
# A float has a point or an exponent; digits alone are an integer (or, with a
# leading zero, text).
_FLOAT = re.compile(
    r"^[-+]?(?=[0-9]*[.eE]|\.[0-9])(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"
)
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")


class CoreLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars (see the module doc)."""

    # A fresh table: PyYAML's YAML 1.1 resolvers are not inherited.
    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}  # noqa: RUF012

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        value = str(self.construct_scalar(node))
        if not _INT.match(value):
            raise ValueError(f"{value!r} is not a decimal integer")
        return int(value)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value = str(self.construct_scalar(node))
        if _INF.match(value):
            return -math.inf if value.startswith("-") else math.inf
        if _NAN.match(value):
            return math.nan
        if not (_FLOAT.match(value) or _INT.match(value)):
            raise ValueError(f"{value!r} is not a YAML 1.2 number")
        return float(value)

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> bool:
        value = str(self.construct_scalar(node))
        if value not in _BOOL:
            raise ValueError(f"{value!r} is not true or false")
        return _BOOL[value]


_BOOL_RE = re.compile("^(?:" + "|".join(_BOOL) + ")$")
CoreLoader.add_implicit_resolver(_TAG + "bool", _BOOL_RE, list("tTfF"))
# Integers before floats: the first matching resolver wins.
CoreLoader.add_implicit_resolver(_TAG + "int", _INT, list("-+0123456789"))
CoreLoader.add_implicit_resolver(_TAG + "float", _FLOAT, list("-+0123456789."))
CoreLoader.add_implicit_resolver(_TAG + "float", _INF, list("-+."))
CoreLoader.add_implicit_resolver(_TAG + "float", _NAN, ["."])
CoreLoader.add_implicit_resolver(_TAG + "null", _NULL, ["~", "n", "N", ""])
CoreLoader.add_implicit_resolver(_TAG + "merge", re.compile(r"^(?:<<)$"), ["<"])
for _first, _resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items():
    for _tag, _regexp in _resolvers:
        if _tag == _TAG + "timestamp":
            CoreLoader.add_implicit_resolver(_tag, _regexp, [_first])
CoreLoader.add_constructor(_TAG + "int", CoreLoader.construct_yaml_int)
CoreLoader.add_constructor(_TAG + "float", CoreLoader.construct_yaml_float)
CoreLoader.add_constructor(_TAG + "bool", CoreLoader.construct_yaml_bool)

NUMBER = re.compile(f"^(?:{_INT.pattern[1:-1]}|{_FLOAT.pattern[1:-1]})$")
"""A number as :class:`CoreLoader` reads it (decimal integer or float, not inf or nan)."""
LEGACY_NUMBER = re.compile(
    r"^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]+|0[bB][01_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+"
    r"(?:\.[0-9_]*)?|[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?|0[0-9]+)$"
)
"""Numbers in YAML 1.1 (and hex/octal in 1.2) that :class:`CoreLoader` reads as text."""
LEGACY_BOOL = frozenset(
    w for b in ("yes", "no", "on", "off", "y", "n") for w in (b, b.title(), b.upper())
)
"""YAML 1.1 booleans that YAML 1.2 (and :class:`CoreLoader`) read as text."""
