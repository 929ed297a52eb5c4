"""Shared base for every configuration model: frozen, strict about unknown keys."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    """Frozen pydantic model; unknown keys are errors; field names are YAML keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)
