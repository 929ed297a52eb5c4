"""Writing outputs (whole files or none, and a clear error where they cannot
go) and reading them back (an unreadable file is an error naming it).

Every file modsim writes goes through :func:`write_atomic`: the content is
written to a new temporary file beside the target, with a name no other
writer uses (``.NAME.<random>.partial``), then renamed over the target. A
crash, Ctrl-C or a full disk leaves the old file or none, never half of one,
and two writers never share a temporary file. The temporary file is created
with mode 0666 less the umask, as an ordinary ``open`` would, so results have
the permissions the user expects (``tempfile.mkstemp`` would make them 0600).

An :class:`OSError` while creating a folder or writing a file (a parent that
is a file, a read-only or missing place, a full disk) becomes a
:class:`~simulator.errors.ModsimError` naming the path and the reason: the
CLI turns it into one line and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.errors import ModsimError

PARTIAL = ".partial"
"""The suffix of every temporary file: what a crash may leave, never a result."""
CLAIM = ".modsim-writing"
"""Present in a results folder while a writer owns it (see :mod:`~simulator.folders.run`)."""


def busy(folder: Path) -> ModsimError:
    """The error for a folder another writer has claimed."""
    return ModsimError(
        f"{folder}: another modsim is writing to this folder; wait for it to finish or "
        f"choose another --out (if no modsim is running, delete {Path(folder) / CLAIM})"
    )


@contextmanager
def reported(path: Path, doing: str) -> Iterator[None]:
    """Turn an :class:`OSError` raised inside into a ModsimError naming ``path``."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        name = exc.filename
        if name is not None and Path(name) != Path(path) and not str(name).endswith(PARTIAL):
            reason += f": {name}"
        raise ModsimError(f"{path}: cannot {doing} ({reason})") from None


def make_folder(path: Path) -> Path:
    """Create the folder ``path`` and its parents (an existing folder is fine)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ModsimError(f"{path}: exists and is not a folder")
    with reported(path, "create the folder"):
        path.mkdir(parents=True, exist_ok=True)
    return path


def temporary(path: Path) -> Path:
    """A new, empty file beside ``path`` that no other writer uses."""
    path = Path(path)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}{PARTIAL}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary name beside {path}")  # pragma: no cover


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` whole or not at all: ``write`` fills a temporary file,
    which then replaces ``path``."""
    path = Path(path)
    with reported(path, "write"):
        tmp = temporary(path)
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def write_text(path: Path, content: str) -> None:
    write_atomic(path, lambda p: p.write_text(content, encoding="utf-8"))


def write_bytes(path: Path, content: bytes) -> None:
    write_atomic(path, lambda p: p.write_bytes(content))


def write_json(path: Path, data: Any, indent: int = 1) -> None:
    """``data`` as JSON; Python's JSON keeps inf and nan (as Infinity and NaN),
    which metrics use; anything else unknown is written as its text."""
    write_text(path, json.dumps(data, indent=indent, default=str) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModsimError(f"{path}: cannot read it as JSON ({exc})") from None


def read_csv(path: Path) -> pd.DataFrame:
    try:
        # cell ids are hex: an all-digit one must not become a number
        return pd.read_csv(path, dtype={"cell_id": str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (OSError, ValueError) as exc:
        raise ModsimError(f"{path}: cannot read it as CSV ({exc})") from None


def missing(root: Path, names: tuple[str, ...]) -> list[str]:
    """The files of ``names`` that ``root`` lacks."""
    return [n for n in names if not (Path(root) / n).is_file()]
