"""``modsim init DIR``: a new project from the bundled files, to edit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from simulator.cli.app import app, bundled, console, guarded
from simulator.folders.atomic import write_text

STARTS = {
    "quick": "scenarios/quick.yaml",
    "parler": "scenarios/parler-like.yaml",
}
"""The scenario a new project starts from, by ``--from``."""

POLICIES = (
    "policies/jury-only.yaml",
    "policies/jury-plus-card-typical.yaml",
    "policies/host-notice-and-strike.yaml",
)
"""The policies a new project starts with: a jury, a jury with a typical
prefilter card, and a host that sends notices and counts strikes."""


def _copy(source: Path, target: Path) -> None:
    """``source`` to ``target``, with a line saying where it came from under the
    schema line (which stays first, so editors keep finding the schema)."""
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    head = lines[:1] if lines and lines[0].startswith("# yaml-language-server:") else []
    note = f"# Made by `modsim init` from modsim's bundled {source.parent.name}/{source.name}.\n"
    write_text(target, "".join([*head, note, *lines[len(head) :]]))


def make_project(folder: Path, start: str = "quick", force: bool = False) -> list[Path]:
    """Write a new project into ``folder``: scenario, policies and JSON Schemas."""
    from simulator.config.loader import KINDS
    from simulator.errors import ModsimError
    from simulator.folders.atomic import make_folder

    if folder.exists() and any(folder.iterdir()) and not force:
        raise ModsimError(f"{folder}: not empty; choose a new folder or pass --force")
    written = []
    for sub, sources in (("scenarios", (STARTS[start],)), ("policies", POLICIES)):
        make_folder(folder / sub)
        for rel in sources:
            target = folder / sub / Path(rel).name
            _copy(bundled(rel), target)
            written.append(target)
    make_folder(folder / "schema")
    for kind, model in KINDS.items():
        target = folder / "schema" / f"{kind}.schema.json"
        write_text(target, json.dumps(model.model_json_schema(), indent=2) + "\n")
        written.append(target)
    return written


@app.command("init")
def init_command(
    folder: Annotated[Path, typer.Argument(help="The new project's folder")],
    start: Annotated[
        Literal["quick", "parler"],
        typer.Option("--from", help="Start from the quick world or the Parler-like one"),
    ] = "quick",
    force: Annotated[bool, typer.Option(help="Write into a folder that is not empty")] = False,
) -> None:
    """Start a project: a scenario, three policies and the schemas, copied to edit."""
    written = guarded(lambda: make_project(folder, start, force))
    for path in written:
        if path.suffix == ".yaml":
            console.print(escape(f"wrote {path}"), highlight=False)
    console.print(escape(f"wrote {folder / 'schema'}/ (JSON Schemas for your editor)"))
    scenario = folder / "scenarios" / Path(STARTS[start]).name
    p = folder / "policies"
    console.print(
        escape(
            "next:\n"
            f"  modsim validate {folder}/scenarios/*.yaml {p}/*.yaml\n"
            f"  modsim run {scenario} -p {p / 'jury-only.yaml'} "
            f"-H {p / 'host-notice-and-strike.yaml'} --out {folder / 'results' / 'first'}\n"
            f"  modsim compare {scenario} -p {p / 'jury-only.yaml'} "
            f"-p {p / 'jury-plus-card-typical.yaml'} --seeds 5 --out {folder / 'results' / 'cmp'}"
        ),
        highlight=False,
    )
