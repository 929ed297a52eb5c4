"""Starting worker processes: the one start method, and the main-guard check.

modsim starts its local workers (an experiment's processes, text mode's
scoring processes) with ``spawn``: chosen here rather than forced at import,
so a caller's own start method is left alone, and safe with threads.

A spawned worker first imports the parent's main module again (as
``__mp_main__``). A script that calls modsim at its top level, outside
``if __name__ == "__main__":``, would start the whole experiment again inside
every worker, and the worker dies before it runs anything. Before any worker
starts, :func:`spawn_context` looks for that mistake and raises a
:class:`~simulator.errors.ModsimError` that names the script, the line and the
fix, instead of leaving the caller with a hung pool or empty tables.
"""

from __future__ import annotations

import ast
import multiprocessing
import sys
from multiprocessing.context import SpawnContext
from pathlib import Path
from types import FrameType

from simulator.errors import ModsimError

GUARD_FIX = (
    'put the code that calls modsim under `if __name__ == "__main__":` '
    "(worker processes import the script again), or use one worker"
)


def spawn_context(what: str) -> SpawnContext:
    """The ``spawn`` context, once :func:`check_can_spawn` found nothing wrong."""
    check_can_spawn(what)
    return multiprocessing.get_context("spawn")


def check_can_spawn(what: str) -> None:
    """Raise a :class:`ModsimError` if starting ``what`` (say "2 worker processes")
    here would re-run the caller's script in every worker."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # We are a spawned worker importing the main module: the parent's script
        # calls modsim at its top level. Fail at once, before any work is done.
        raise ModsimError(f"cannot start {what} from a worker process: {GUARD_FIX}")
    site = unguarded_call_site()
    if site is not None:
        path, line = site
        raise ModsimError(
            f"{path}, line {line}: this script starts {what} at its top level; {GUARD_FIX}"
        )


def unguarded_call_site() -> tuple[str, int] | None:
    """The main script's file and line, if the current call comes from its top
    level outside an ``if __name__ == "__main__":`` block; else None."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return None  # an interactive session or `python -c`: nothing is imported again
    frame = _module_frame(main.__dict__)
    if frame is None:
        return None
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None  # a source we cannot read: let the workers' own error speak
    line = frame.f_lineno
    guarded = any(
        node.body[0].lineno <= line <= (node.body[-1].end_lineno or node.body[-1].lineno)
        for node in tree.body
        if isinstance(node, ast.If) and _is_main_test(node.test)
    )
    return None if guarded else (str(path), line)


def _module_frame(globals_: dict[str, object]) -> FrameType | None:
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_globals is globals_ and frame.f_code.co_name == "<module>":
            return frame
        frame = frame.f_back
    return None


def _is_main_test(test: ast.expr) -> bool:
    """``__name__ == "__main__"``, either way round."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(mains) == 1


__all__ = ["GUARD_FIX", "check_can_spawn", "spawn_context", "unguarded_call_site"]
