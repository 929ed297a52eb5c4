"""Errors modsim raises for bad input. The CLI turns any of them into a clear
message and exit code 2; nothing else is an expected failure."""

from __future__ import annotations


class ModsimError(Exception):
    """Base class: a problem with the user's input, explained in words."""


class ConfigError(ModsimError):
    """A configuration file that cannot be used.

    Carries the file, the 1-based line (when known), the dotted field path and
    what was expected, so the message points the user at the exact spot.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message
        where = file or "<input>"
        if line is not None:
            where += f":{line}"
        prefix = f"{where}: " + (f"{field}: " if field else "")
        super().__init__(prefix + message)


class ModelFileError(ModsimError):
    """A classifier model file that is missing, foreign, or holds untrusted types."""


class DataFileError(ModsimError):
    """A data file (labelled training data, post log) that cannot be read as asked."""
