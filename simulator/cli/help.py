"""How ``modsim --help`` reads: commands in the order a user meets them, an
example under each, and placeholders that say what to type (``FILE``, ``N``)
rather than Python types (``<list[Path]>``, ``<bool>``).

:class:`ModsimGroup` is the application's click group. When click asks it for
a command (to run it or to show its help) it fills in what the declarations
leave out: the examples of :data:`EXAMPLES` as the command's epilog, and a
metavar for every parameter. Nothing here changes what a command does.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from typer.core import TyperGroup

ORDER = (
    "init",
    "run",
    "validate",
    "compare",
    "batch",
    "diff",
    "explain",
    "report",
    "export",
    "optimize",
    "robustness",
    "calibrate",
    "classifier",
    "schema",
    # modsim classifier ...
    "train",
    "evaluate",
    "sample",
)
"""Commands in the order a new user needs them; any other follows, by name."""

EXAMPLES: dict[str, tuple[str, ...]] = {
    "init": ("modsim init my-platform", "modsim init my-platform --from parler"),
    "run": (
        "modsim run",
        "modsim run scenarios/quick.yaml -p policies/jury-only.yaml "
        "-H policies/host-strict-24h.yaml --out results/q",
        "modsim run scenarios/parler-like.yaml -p policies/jury-plus-ai.yaml --dry-run",
    ),
    "validate": (
        "modsim validate scenarios/parler-like.yaml policies/jury-only.yaml "
        "policies/host-notice-and-strike.yaml",
    ),
    "schema": ("modsim schema --out schema/",),
    "report": ("modsim report results/q -o q.html",),
    "export": ("modsim export results/jury-size --xlsx jury-size.xlsx",),
    "compare": (
        "modsim compare scenarios/quick.yaml -p policies/jury-only.yaml "
        "-p policies/jury-plus-ai.yaml --seeds 10",
    ),
    "batch": ("modsim batch batches/jury-size.yaml --out results/jury-size",),
    "diff": (
        "modsim diff results/q results/q-bigger-jury",
        "modsim diff results/before results/after --out results/before-after",
    ),
    "optimize": ("modsim optimize examples/parler-not-suspended.yaml --out results/parler-search",),
    "robustness": (
        "modsim robustness examples/parler-not-suspended.yaml "
        "-p results/parler-search/recommended.yaml",
    ),
    "calibrate": (
        "modsim calibrate examples/parler-calibration.yaml --out results/parler-calibration",
    ),
    "explain": ("modsim explain results/q --lever jury-pool --lever prefilter --seeds 3",),
    "train": (
        "modsim classifier train --out models/synthetic.skops",
        "modsim classifier train --data labelled.csv --text-col body --label-col verdict "
        "--positive-label remove --out models/ours.skops",
    ),
    "sample": ("modsim classifier sample --out labelled.csv --seed 1",),
    "evaluate": (
        "modsim classifier evaluate models/ours.skops -p policies/ai-first.yaml "
        "--scenario scenarios/quick.yaml",
    ),
}
"""Examples shown under each command's help (by command name)."""


_WORDS = {Path: "FILE", int: "N", float: "X", str: "TEXT"}


def _placeholder(param: Any) -> str:
    """What to type for ``param``: ``FILE``, ``N``, ``X``, ``a|b``, ``TEXT``,
    from the annotation typer keeps (``type_descriptor``) or click's type."""
    desc = getattr(param, "type_descriptor", None)
    if desc is not None:
        kind = desc.annotation
        if get_origin(kind) in (list, tuple):
            kind = get_args(kind)[0]
        if get_origin(kind) is Literal:
            return "|".join(map(str, get_args(kind)))
        if isinstance(kind, type) and issubclass(kind, Enum):
            return "|".join(str(m.value) for m in kind)
        return _WORDS.get(kind, "TEXT") if isinstance(kind, type) else "TEXT"
    name = str(getattr(getattr(param, "type", None), "name", "text"))
    return {"path": "FILE", "integer": "N", "float": "X"}.get(name.split()[0], name.upper())


def tidy(params: list[Any]) -> None:
    """Placeholders for people: none for a switch, a word for a value."""
    for p in params:
        argument = not hasattr(p, "is_flag")
        if not argument and p.is_flag and not getattr(p, "count", False):
            label = shown = ""
        else:
            shown = _placeholder(p)
            if p.multiple or p.nargs != 1:
                shown += "..."
            label = p.metavar or ((p.name or "value").upper() if argument else shown)
        p.metavar = label or None
        # typer's rich help shows a type column from the annotation (``<list[Path]>``,
        # ``<bool>``); show the placeholder there instead, nothing for a switch
        p.display_type_rich = lambda ctx, text=shown: text


def _tidy_help_option(cmd: Any) -> None:
    """``--help`` is made afresh on demand: tidy it as it is made."""
    made = cmd.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = made(ctx)
        if option is not None:
            tidy([option])
        return option

    cmd.get_help_option = get_help_option


def with_examples(cmd: Any) -> Any:
    """``cmd`` with its examples as its epilog and tidy placeholders (once)."""
    if getattr(cmd, "_modsim_tidied", False):
        return cmd
    examples = EXAMPLES.get(cmd.name or "")
    if examples and not cmd.epilog:
        # typer's rich help keeps single line breaks in an epilog only after "\b"
        cmd.epilog = "Examples:\n\n" + "\n\n".join(f"  $ {e}" for e in examples)
    tidy(cmd.params)
    _tidy_help_option(cmd)
    cmd._modsim_tidied = True
    return cmd


class ModsimGroup(TyperGroup):
    """The ``modsim`` group (and ``modsim classifier``): commands in :data:`ORDER`,
    each with its examples and placeholders."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(ORDER)}
        return sorted(names, key=lambda n: (rank.get(n, len(ORDER)), n))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        return None if cmd is None else with_examples(cmd)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy_help_option(self)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        tidy(self.params)
        super().format_help(ctx, formatter)
